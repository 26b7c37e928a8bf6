// Shared helpers of the GStreamer element tests: model files made on the fly, video buffers built
// from cv::Mat (with GStreamer's row padding) and read back, and harnesses around configured elements.
#pragma once

#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include <derain/types.hpp>

namespace gst_test {

// One of the raw formats the elements accept.
struct Format {
  const char* name;          // caps name, e.g. "RGBx"
  int channels;              // bytes per pixel
  derain::ColorOrder order;  // order of the colour channels
};
const std::vector<Format>& allFormats();
// How GoogleTest prints a Format parameter: its name.
void PrintTo(const Format& format, std::ostream* out);

// Files made once per test program in a temporary directory (removed with its contents at exit).
const std::string& liteModelPath();     // untrained lite model, non-residual generators (not the identity)
const std::string& corruptModelPath();  // bytes that are no model file
std::string missingModelPath();         // a path in that directory that does not exist
std::string tempPath(const std::string& name);  // a path in that directory, for a test's own files

// "video/x-raw,format=F,width=W,height=H,framerate=N/1".
std::string capsString(const Format& format, int width, int height, int fps = 30);

// Deterministic test picture with `channels` bytes per pixel (4th byte varies too, to catch alpha loss).
cv::Mat testImage(int width, int height, int channels, uint64_t seed);

// A buffer holding image in the layout GStreamer uses for caps (rows padded to the caps' stride), PTS pts.
GstBuffer* bufferFromImage(const cv::Mat& image, const std::string& caps, GstClockTime pts);
// The frame in buffer as a tightly packed CV_8UC3 / CV_8UC4 copy.
cv::Mat imageFromBuffer(GstBuffer* buffer, const std::string& caps);
// The packed colour channels of a 3- or 4-channel image (CV_8UC3).
cv::Mat colourOf(const cv::Mat& image);
// Channel c of an image (CV_8UC1).
cv::Mat channelOf(const cv::Mat& image, int c);

// Harness around a new element of factory, with properties set from "name=value" strings
// (gst_util_set_object_arg syntax) before it starts, and src caps set.
GstHarness* harnessFor(const char* factory, const std::vector<std::string>& properties, const std::string& caps);

// Test name suffix "RGBx_13x7" for parameterised tests over (format, size).
std::string formatSizeName(const ::testing::TestParamInfo<std::tuple<Format, cv::Size>>& info);

// Longest a tiny pipeline may take before a test calls it hung (2 slow CI cores, generous).
constexpr GstClockTime kPipelineTimeout = 120 * GST_SECOND;

struct RunResult {
  bool eos = false;
  std::string error;  // message of the first error, if any
  int buffers = 0;    // buffers that reached the fakesink named "sink"
  int width = 0;      // size of the last video frame there, from its caps
  int height = 0;
};
// Plays a launch line until EOS, an error or kPipelineTimeout.
RunResult runToEnd(const std::string& launch);

// Number of pixels (over every channel) where a and b differ.
int differingValues(const cv::Mat& a, const cv::Mat& b);

}  // namespace gst_test
