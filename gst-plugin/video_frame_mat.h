// Views of mapped GstVideoFrames as cv::Mat (no copy, the frame's stride kept) and the colour
// facts of the packed RGB formats the derain elements accept.
#pragma once

#include <gst/video/video.h>
#include <opencv2/core.hpp>

#include <derain/types.hpp>

// Raw video formats of both elements: packed 8-bit RGB with or without a 4th (alpha / padding) byte.
#define DERAIN_GST_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx }"

namespace derain_gst {

// The frame's only plane as CV_8UC3 or CV_8UC4 over the frame's memory; row step = the frame's stride.
cv::Mat frameMat(GstVideoFrame* frame);

// Order of the three colour channels of a supported format (RGB, RGBA, RGBx -> RGB).
derain::ColorOrder colorOrder(GstVideoFormat format);

// The colour channels of a 3- or 4-channel view as a continuous CV_8UC3 (libderain's input type).
// Returns the view itself when it already is one; otherwise packs into scratch (memory reused).
cv::Mat packedColour(const cv::Mat& frame, cv::Mat& scratch);

// Writes a CV_8UC3 image into the colour channels of out (3 or 4 channels, same size); a 4th channel
// of out is copied from the same channel of in, so alpha survives processing.
void writeColour(const cv::Mat& colour, const cv::Mat& in, cv::Mat& out);

}  // namespace derain_gst
