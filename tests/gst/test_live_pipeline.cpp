// A live camera pipeline whose source is faster than the network, as in issue 12: a live source, derain,
// and a sink that synchronises to the clock with QoS (how a video sink behaves). The element must render
// on time nearly every frame it can process (QoS drops the rest before inference, the worker overlaps,
// the latency is measured and reported), with one stream and with two streams sharing one engine.
// Counts, not times: the source runs at twice what the element got through in the same test (the same
// pipeline not live and unsynchronised), so the figures hold on a fast or a slow machine.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gst_test_support.h"

namespace {

constexpr int kWidth = 320, kHeight = 240;
constexpr int kCapacityFrames = 16;   // per stream, to measure what the elements get through
constexpr double kOverload = 2.0;     // live source rate over that capacity
constexpr double kLiveSeconds = 3.0;
// derain-gst-bench --live renders 1.00-1.04x of the capacity on a quiet machine (README), and this test
// measured 0.92-1.25x while a training run shared the two cores; the element that ran inference in the
// streaming thread rendered 0.09x. The bound leaves room for a loaded machine.
constexpr double kMinRenderedShare = 0.75;

struct SinkCount {
  int frames = 0;
  gint64 first_us = 0, last_us = 0;
};

void onHandoff(GstElement*, GstBuffer*, GstPad*, gpointer data) {
  auto* count = static_cast<SinkCount*>(data);
  count->last_us = g_get_monotonic_time();
  if (count->frames++ == 0) count->first_us = count->last_us;
}

std::string branchSuffix(int i) { return i == 0 ? "" : std::to_string(i); }

// `streams` branches of `source ! caps ! derain ! sink`; the derain elements share one engine (same
// settings). `caps_extra` is appended to the caps (",framerate=...").
std::string pipelineText(int streams, const std::string& source, const std::string& caps_extra, const std::string& sink) {
  std::string text;
  for (int i = 0; i < streams; ++i)
    text += source + " ! video/x-raw,format=RGB,width=" + std::to_string(kWidth) + ",height=" + std::to_string(kHeight) +
            caps_extra +
            " ! derain name=derain" + branchSuffix(i) + " threads=1 max-in-flight=2 model=\"" +
            gst_test::liteModelPath() + "\" ! " + sink + " name=sink" + branchSuffix(i) + " signal-handoffs=true  ";
  return text;
}

struct PipelineRun {
  std::vector<SinkCount> sinks;
  bool eos = false;
  std::string error;
  int latency_messages = 0;
  bool live = false;
  GstClockTime min_latency = GST_CLOCK_TIME_NONE;
};

// Plays to EOS, doing what gst-launch does on LATENCY messages (recalculate), and queries the latency.
PipelineRun play(const std::string& text, int streams) {
  PipelineRun run;
  run.sinks.resize(streams);
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(text.c_str(), &error);
  if (pipeline == nullptr) {
    run.error = error != nullptr ? error->message : "parse failed";
    g_clear_error(&error);
    return run;
  }
  for (int i = 0; i < streams; ++i) {
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), ("sink" + branchSuffix(i)).c_str());
    g_signal_connect(sink, "handoff", G_CALLBACK(onHandoff), &run.sinks[i]);
    gst_object_unref(sink);
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  const gint64 give_up = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
  for (;;) {
    const gint64 left = give_up - g_get_monotonic_time();
    GstMessage* message = left <= 0 ? nullptr : gst_bus_timed_pop_filtered(bus, left * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_LATENCY));
    if (message == nullptr) {
      run.error = "no EOS in time (hung?)";
      break;
    }
    const GstMessageType type = GST_MESSAGE_TYPE(message);
    if (type == GST_MESSAGE_LATENCY) {
      ++run.latency_messages;
      gst_bin_recalculate_latency(GST_BIN(pipeline));
    } else if (type == GST_MESSAGE_EOS) {
      run.eos = true;
    } else {
      GError* gerror = nullptr;
      gst_message_parse_error(message, &gerror, nullptr);
      run.error = gerror->message;
      g_error_free(gerror);
    }
    gst_message_unref(message);
    if (type != GST_MESSAGE_LATENCY) break;
  }
  GstQuery* query = gst_query_new_latency();
  if (gst_element_query(pipeline, query)) {
    gboolean live = FALSE;
    gst_query_parse_latency(query, &live, &run.min_latency, nullptr);
    run.live = live;
  }
  gst_query_unref(query);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return run;
}

class LivePipeline : public ::testing::TestWithParam<int> {};

TEST_P(LivePipeline, RendersOnTimeNearlyAllTheElementCanProcess) {
  const int streams = GetParam();
  // What the elements get through: the same branches, not live, the sinks not waiting for the clock.
  const PipelineRun capacity = play(
      pipelineText(streams, "videotestsrc num-buffers=" + std::to_string(kCapacityFrames), "", "fakesink sync=false"),
      streams);
  ASSERT_TRUE(capacity.eos) << capacity.error;
  int frames = 0;
  gint64 first = G_MAXINT64, last = 0;
  for (const SinkCount& s : capacity.sinks) {
    ASSERT_EQ(s.frames, kCapacityFrames);
    frames += s.frames;
    first = std::min(first, s.first_us);
    last = std::max(last, s.last_us);
  }
  const double capacity_fps = (frames - streams) * 1e6 / static_cast<double>(last - first);

  // Live, overloaded: each camera at kOverload times its share of that capacity.
  const int fps = std::max(2, static_cast<int>(std::ceil(kOverload * capacity_fps / streams)));
  const int per_stream = static_cast<int>(std::lround(fps * kLiveSeconds));
  const PipelineRun live = play(pipelineText(streams,
      "videotestsrc is-live=true num-buffers=" + std::to_string(per_stream), ",framerate=" + std::to_string(fps) + "/1",
      "fakesink sync=true max-lateness=20000000 qos=true"), streams);
  ASSERT_TRUE(live.eos) << live.error;
  int rendered = 0;
  for (const SinkCount& s : live.sinks) rendered += s.frames;
  const int offered = per_stream * streams;
  const double can = std::min(static_cast<double>(offered), capacity_fps * kLiveSeconds);
  RecordProperty("capacity_fps", std::to_string(capacity_fps));
  RecordProperty("rendered", std::to_string(rendered) + " of " + std::to_string(offered));
  EXPECT_GE(rendered, kMinRenderedShare * can)
      << rendered << " of " << offered << " frames rendered on time; the elements alone do " << capacity_fps
      << " fps, " << can << " frames in " << kLiveSeconds << " s";
  EXPECT_LT(rendered, 0.9 * offered) << "the source did not outrun the element: the test measures nothing";
  // The latency is measured and reported: the pipeline is live with the element's processing time in it
  // (more than a frame: the worker holds up to two), and it settled instead of being re-announced.
  EXPECT_TRUE(live.live);
  EXPECT_GT(live.min_latency, GST_SECOND / fps);
  EXPECT_LE(live.latency_messages, 3 * streams);
}

INSTANTIATE_TEST_SUITE_P(Streams, LivePipeline, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + (info.param == 1 ? "Stream" : "Streams");
                         });

}  // namespace
