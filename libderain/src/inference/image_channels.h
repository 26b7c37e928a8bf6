// What the networks see and what callers have: the networks take 3 colour channels, 8-bit or float;
// callers bring grey, colour or colour + alpha, 8-bit, 16-bit or float. The engine adapts both ways
// here, once for every face: grey is replicated in and converted back (BGR2GRAY / RGB2GRAY, i.e.
// exactly the grey of the colour result), alpha bypasses the network and is copied back bit-exact,
// 16-bit goes through float (/65535 in, *65535 rounded out).
#pragma once

#include <opencv2/core.hpp>

#include "derain/types.hpp"

namespace derain::detail {

// Throws derain::Error naming the problem for an empty image, more than 2 dimensions, a depth other
// than CV_8U / CV_16U / CV_32F, or a channel count other than 1, 3, 4.
void checkNetworkImage(const cv::Mat& image);

// CV_8UC3 for 8-bit input, CV_32FC3 (0..1) for 16-bit and float input. Shares src's data when it is
// already 8UC3 / 32FC3.
cv::Mat networkColour(const cv::Mat& src);

// The network's colour result (CV_8UC3 / CV_32FC3 as networkColour made) brought back to src's
// depth and channel count.
cv::Mat restoreLayout(const cv::Mat& colour, const cv::Mat& src, ColorOrder order);

}  // namespace derain::detail
