// Whole pipelines with the elements run to EOS (and stop with an error message, not a hang, when
// the model is bad).
#include <string>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include "gst_test_support.h"

namespace {

// Longest a tiny pipeline may take before the test calls it hung (2 slow CI cores, generous).
constexpr GstClockTime kPipelineTimeout = 120 * GST_SECOND;

struct RunResult {
  bool eos = false;
  std::string error;  // message of the first error, if any
  int buffers = 0;    // buffers that reached the fakesink named "sink"
};

void countBuffer(GstElement*, GstBuffer*, GstPad*, gpointer count) { ++*static_cast<int*>(count); }

RunResult runToEnd(const std::string& launch) {
  RunResult result;
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &error);
  if (pipeline == nullptr) {
    result.error = error != nullptr ? error->message : "parse failed";
    g_clear_error(&error);
    return result;
  }
  if (GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink")) {
    g_object_set(sink, "signal-handoffs", TRUE, nullptr);
    g_signal_connect(sink, "handoff", G_CALLBACK(countBuffer), &result.buffers);
    gst_object_unref(sink);
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(bus, kPipelineTimeout,
      static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) {
    result.error = "timed out (hung?)";
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
    result.eos = true;
  } else {
    GError* gerror = nullptr;
    gst_message_parse_error(message, &gerror, nullptr);
    result.error = gerror->message;
    g_error_free(gerror);
  }
  if (message != nullptr) gst_message_unref(message);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return result;
}

TEST(Pipelines, VideotestsrcDerainFakesinkReachesEos) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=32,height=24 ! "
      "derain threads=1 model=\"" + gst_test::liteModelPath() + "\" ! fakesink name=sink");
  EXPECT_TRUE(result.eos) << result.error;
  EXPECT_EQ(result.buffers, 3);
}

TEST(Pipelines, RainmakeThenDerainWithConversionReachesEos) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=4 ! video/x-raw,width=33,height=17 ! videoconvert ! rainmake seed=2 ! "
      "derain threads=1 strength=0.5 model=\"" + gst_test::liteModelPath() + "\" ! videoconvert ! "
      "video/x-raw,format=I420 ! fakesink name=sink");
  EXPECT_TRUE(result.eos) << result.error;
  EXPECT_EQ(result.buffers, 4);
}

TEST(Pipelines, CorruptModelStopsThePipelineWithAnError) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=3 ! video/x-raw,format=BGRx,width=16,height=16 ! "
      "derain model=\"" + gst_test::corruptModelPath() + "\" ! fakesink name=sink");
  EXPECT_FALSE(result.eos);
  EXPECT_NE(result.error.find(gst_test::corruptModelPath()), std::string::npos) << result.error;
  EXPECT_EQ(result.buffers, 0);
}

}  // namespace
