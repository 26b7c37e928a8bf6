// derain's worker (max-in-flight > 1): frames come out in order with their timestamps, flags and
// metadata and the same pixels as without it; EOS drains, a flush discards, going to NULL with
// frames in flight does not hang; elements with the same settings share one engine; negotiation
// runs no inference; the latency is max-in-flight frame times; READY-only properties are refused
// while playing. Counts and values only, no wall-clock assertions.
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include <derain/engine_options.hpp>
#include <derain/inference_library.hpp>

#include "gst_test_support.h"

namespace {

using gst_test::Format;

const Format kRgb = gst_test::allFormats()[0];

std::vector<std::string> derainProperties(int max_in_flight, int threads = 1) {
  // Frame by frame (temporal-window=0): the tests compare each frame with the engine's output.
  return {"model=" + gst_test::liteModelPath(), "device=cpu", "threads=" + std::to_string(threads),
          "max-in-flight=" + std::to_string(max_in_flight), "temporal-window=0"};
}

// What the test compares of a buffer.
struct Stamp {
  GstClockTime pts, dts, duration;
  guint64 offset, offset_end;
  guint flags;
  GstClockTime reference;  // GstReferenceTimestampMeta's timestamp, NONE without one
  bool operator==(const Stamp& o) const {
    return pts == o.pts && dts == o.dts && duration == o.duration && offset == o.offset &&
           offset_end == o.offset_end && flags == o.flags && reference == o.reference;
  }
};

GstCaps* referenceCaps() {
  static GstCaps* caps = gst_caps_new_empty_simple("timestamp/x-derain-test");
  return caps;
}

// The flags a filter passes on (GAP is the base class's business).
constexpr guint kCheckedFlags = GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_DELTA_UNIT | GST_BUFFER_FLAG_MARKER |
                                GST_BUFFER_FLAG_DROPPABLE;

Stamp stampOf(GstBuffer* buffer) {
  GstReferenceTimestampMeta* meta = gst_buffer_get_reference_timestamp_meta(buffer, referenceCaps());
  return Stamp{GST_BUFFER_PTS(buffer), GST_BUFFER_DTS(buffer), GST_BUFFER_DURATION(buffer),
               GST_BUFFER_OFFSET(buffer), GST_BUFFER_OFFSET_END(buffer),
               GST_BUFFER_FLAGS(buffer) & kCheckedFlags, meta != nullptr ? meta->timestamp : GST_CLOCK_TIME_NONE};
}

struct Output {
  std::vector<Stamp> stamps;
  std::vector<cv::Mat> images;
};

// Pushes every frame (the harness blocks while max-in-flight frames are in flight), then EOS, then
// pulls what came out.
Output runFrames(int max_in_flight, const std::vector<cv::Mat>& images, const std::vector<Stamp>& stamps,
                 const std::string& caps) {
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(max_in_flight), caps);
  for (size_t i = 0; i < images.size(); ++i) {
    GstBuffer* buffer = gst_test::bufferFromImage(images[i], caps, stamps[i].pts);
    GST_BUFFER_DTS(buffer) = stamps[i].dts;
    GST_BUFFER_DURATION(buffer) = stamps[i].duration;
    GST_BUFFER_OFFSET(buffer) = stamps[i].offset;
    GST_BUFFER_OFFSET_END(buffer) = stamps[i].offset_end;
    GST_BUFFER_FLAG_SET(buffer, stamps[i].flags);
    gst_buffer_add_reference_timestamp_meta(buffer, referenceCaps(), stamps[i].reference, GST_CLOCK_TIME_NONE);
    EXPECT_EQ(gst_harness_push(h, buffer), GST_FLOW_OK) << "frame " << i;
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  Output output;
  while (GstBuffer* out = gst_harness_try_pull(h)) {
    output.stamps.push_back(stampOf(out));
    output.images.push_back(gst_test::imageFromBuffer(out, caps));
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
  return output;
}

TEST(DerainWorker, ThousandFramesKeepOrderTimestampsFlagsMetaAndPixels) {
  constexpr int kFrames = 1000;
  const std::string caps = gst_test::capsString(kRgb, 16, 16);
  std::mt19937_64 rng(12);
  std::vector<cv::Mat> images;
  std::vector<Stamp> stamps;
  const guint flag_choices[] = {GST_BUFFER_FLAG_DISCONT, GST_BUFFER_FLAG_DELTA_UNIT, GST_BUFFER_FLAG_MARKER,
                                GST_BUFFER_FLAG_DROPPABLE};
  GstClockTime pts = 0;
  for (int k = 0; k < kFrames; ++k) {
    images.push_back(gst_test::testImage(16, 16, 3, 1000 + k % 7));  // a few pictures, reused
    const GstClockTime duration = 1 + rng() % (100 * GST_MSECOND);
    pts += rng() % (50 * GST_MSECOND);  // gaps and overlaps of random size
    guint flags = 0;
    for (guint flag : flag_choices)
      if (rng() % 4 == 0) flags |= flag;
    stamps.push_back(Stamp{pts, rng() % 3 == 0 ? GST_CLOCK_TIME_NONE : pts / 2, duration,
                           static_cast<guint64>(k), static_cast<guint64>(k + 1), flags,
                           static_cast<GstClockTime>(rng() % GST_SECOND)});
    pts += duration;
  }

  const Output threaded = runFrames(2, images, stamps, caps);
  const Output inline_ = runFrames(1, images, stamps, caps);
  ASSERT_EQ(threaded.stamps.size(), static_cast<size_t>(kFrames));
  ASSERT_EQ(inline_.stamps.size(), static_cast<size_t>(kFrames));
  int stamp_mismatches = 0, pixel_mismatches = 0, differs_from_inline = 0;
  for (int k = 0; k < kFrames; ++k) {
    if (!(threaded.stamps[k] == stamps[k])) ++stamp_mismatches;
    if (!(threaded.stamps[k] == inline_.stamps[k])) ++differs_from_inline;
    if (gst_test::differingValues(threaded.images[k], inline_.images[k]) != 0) ++pixel_mismatches;
  }
  EXPECT_EQ(stamp_mismatches, 0);
  EXPECT_EQ(differs_from_inline, 0);
  EXPECT_EQ(pixel_mismatches, 0);
}

TEST(DerainWorker, EosGoesOnAfterEveryFrame) {
  const std::string caps = gst_test::capsString(kRgb, 32, 24);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(3), caps);
  const cv::Mat input = gst_test::testImage(32, 24, 3, 2);
  for (int k = 0; k < 10; ++k)
    ASSERT_EQ(gst_harness_push(h, gst_test::bufferFromImage(input, caps, k * GST_SECOND / 30)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  // EOS has passed the element, so every frame is out.
  EXPECT_EQ(gst_harness_buffers_received(h), 10u);
  bool eos = false;
  while (GstEvent* event = gst_harness_try_pull_event(h)) {
    eos = eos || GST_EVENT_TYPE(event) == GST_EVENT_EOS;
    gst_event_unref(event);
  }
  EXPECT_TRUE(eos);
  gst_harness_teardown(h);
}

// What leaves the element's src pad, in order: buffer PTS, and kFlushStopMark for FLUSH_STOP.
constexpr GstClockTime kFlushStopMark = GST_CLOCK_TIME_NONE - 1;
struct Recorder {
  std::mutex mutex;
  std::vector<GstClockTime> sequence;
};

GstPadProbeReturn record(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* recorder = static_cast<Recorder*>(data);
  std::lock_guard<std::mutex> lock(recorder->mutex);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    recorder->sequence.push_back(GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)));
  } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
    recorder->sequence.push_back(kFlushStopMark);
  }
  return GST_PAD_PROBE_OK;
}

TEST(DerainWorker, FlushDiscardsQueuedFramesWithoutLeakingThem) {
  const std::string caps = gst_test::capsString(kRgb, 96, 64);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(3), caps);
  Recorder recorder;
  GstPad* src = gst_element_get_static_pad(h->element, "src");
  gst_pad_add_probe(src, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                    record, &recorder, nullptr);
  gst_object_unref(src);

  const cv::Mat input = gst_test::testImage(96, 64, 3, 4);
  std::vector<GstBuffer*> inputs;  // an extra reference each, to see that all are released
  auto push = [&](GstClockTime pts) {
    GstBuffer* buffer = gst_test::bufferFromImage(input, caps, pts);
    inputs.push_back(gst_buffer_ref(buffer));
    return gst_harness_push(h, buffer);
  };
  for (int k = 0; k < 6; ++k) ASSERT_EQ(push(k * GST_SECOND), GST_FLOW_OK);
  // Frames are still queued or being processed now, most likely; whatever is, must not come out later.
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  for (int k = 0; k < 5; ++k) ASSERT_EQ(push(100 * GST_SECOND + k * GST_SECOND), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));

  std::vector<GstClockTime> sequence;
  {
    std::lock_guard<std::mutex> lock(recorder.mutex);
    sequence = recorder.sequence;
  }
  size_t mark = 0;
  while (mark < sequence.size() && sequence[mark] != kFlushStopMark) ++mark;
  ASSERT_LT(mark, sequence.size()) << "FLUSH_STOP never left the element";
  EXPECT_LE(mark, 6u) << "no frame twice";
  for (size_t i = 0; i < mark; ++i) EXPECT_EQ(sequence[i], i * GST_SECOND) << "before the flush, in order";
  ASSERT_EQ(sequence.size() - mark - 1, 5u) << "after the flush: exactly the 5 new frames";
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(sequence[mark + 1 + i], 100 * GST_SECOND + i * GST_SECOND);
  // Every input, discarded or processed, is released by the element (only our reference is left).
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(GST_MINI_OBJECT_REFCOUNT_VALUE(inputs[i]), 1) << "input " << i;
    gst_buffer_unref(inputs[i]);
  }
  gst_harness_teardown(h);
}

TEST(DerainWorker, GoingToNullWithFramesInFlightDoesNotHang) {
  const std::string caps = gst_test::capsString(kRgb, 96, 64);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(2), caps);
  const cv::Mat input = gst_test::testImage(96, 64, 3, 5);
  std::atomic<int> pushed{0};
  std::thread pusher([&] {
    for (int k = 0; k < 200; ++k) {
      if (gst_harness_push(h, gst_test::bufferFromImage(input, caps, k * GST_SECOND / 30)) != GST_FLOW_OK) break;
      ++pushed;
    }
  });
  // Wait (by count) until frames are flowing, then stop with more pushed and queued.
  GstBuffer* first = gst_harness_pull(h);
  ASSERT_NE(first, nullptr);
  gst_buffer_unref(first);
  auto stopped = std::async(std::launch::async, [&] { return gst_element_set_state(h->element, GST_STATE_NULL); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "deadlock going to NULL";
  EXPECT_NE(stopped.get(), GST_STATE_CHANGE_FAILURE);
  pusher.join();
  EXPECT_LT(pushed.load(), 200) << "the streaming thread is refused once the element stopped";
  gst_harness_teardown(h);
}

derain::EngineOptions elementOptions(int threads) {
  derain::EngineOptions options;
  options.device = derain::Device::CPU;
  options.threads = threads;
  return options;
}

TEST(DerainSharedEngine, TwoElementsWithTheSameSettingsHoldOneEngine) {
  const std::string model = gst_test::liteModelPath();
  const std::string settings = "model=" + model + " device=cpu threads=1 temporal-window=0";
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(("videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=16,height=16 ! "
      "derain " + settings + " ! derain " + settings + " max-in-flight=1 ! fakesink").c_str(), &error);
  ASSERT_NE(pipeline, nullptr) << (error != nullptr ? error->message : "");
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(gst_element_get_state(pipeline, nullptr, nullptr, gst_test::kPipelineTimeout), GST_STATE_CHANGE_SUCCESS);
  EXPECT_EQ(derain::inferenceLibrary().holders(model, elementOptions(1)), 2);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  EXPECT_EQ(derain::inferenceLibrary().holders(model, elementOptions(1)), 0);
  gst_object_unref(pipeline);
}

TEST(DerainSharedEngine, ElementsNamingTheirOwnInstancesHoldAnEngineEach) {
  const std::string model = gst_test::liteModelPath();
  const std::string settings = "model=" + model + " device=cpu threads=1 temporal-window=0";
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(("videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=16,height=16 ! "
      "derain name=first " + settings + " model-instance-id=cam1 ! derain " + settings + " model-instance-id=cam2 ! "
      "rainmake mode=learned model=" + model + " device=cpu threads=1 model-instance-id=cam2 ! fakesink").c_str(),
      &error);
  ASSERT_NE(pipeline, nullptr) << (error != nullptr ? error->message : "");
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(gst_element_get_state(pipeline, nullptr, nullptr, gst_test::kPipelineTimeout), GST_STATE_CHANGE_SUCCESS);
  auto& library = derain::inferenceLibrary();
  EXPECT_EQ(library.instanceHolders(model, elementOptions(1), "cam1"), 1);
  EXPECT_EQ(library.instanceHolders(model, elementOptions(1), "cam2"), 2);  // the second derain and rainmake
  EXPECT_EQ(library.holders(model, elementOptions(1)), 0);
  gchar* instance = nullptr;
  GstElement* first = gst_bin_get_by_name(GST_BIN(pipeline), "first");
  ASSERT_NE(first, nullptr);
  g_object_get(first, "model-instance-id", &instance, nullptr);
  EXPECT_STREQ(instance, "cam1");
  g_free(instance);
  gst_object_unref(first);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  EXPECT_EQ(library.instanceHolders(model, elementOptions(1), "cam2"), 0);
  gst_object_unref(pipeline);
}

std::vector<cv::Mat> derainAll(GstHarness* h, const std::vector<cv::Mat>& inputs, const std::string& caps) {
  std::vector<cv::Mat> outputs;
  for (size_t k = 0; k < inputs.size(); ++k)
    EXPECT_EQ(gst_harness_push(h, gst_test::bufferFromImage(inputs[k], caps, k * GST_SECOND / 30)), GST_FLOW_OK);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  while (GstBuffer* out = gst_harness_try_pull(h)) {
    outputs.push_back(gst_test::imageFromBuffer(out, caps));
    gst_buffer_unref(out);
  }
  return outputs;
}

TEST(DerainSharedEngine, ElementsWithDifferentThreadsGiveWhatEachGivesAlone) {
  const std::string caps = gst_test::capsString(kRgb, 40, 30);
  std::vector<cv::Mat> inputs;
  for (int k = 0; k < 6; ++k) inputs.push_back(gst_test::testImage(40, 30, 3, 300 + k));

  std::vector<cv::Mat> alone[2];
  for (int i = 0; i < 2; ++i) {
    GstHarness* h = gst_test::harnessFor("derain", derainProperties(2, i + 1), caps);
    alone[i] = derainAll(h, inputs, caps);
    gst_harness_teardown(h);
  }
  // Both at once, each fed from its own thread.
  GstHarness* harnesses[2] = {gst_test::harnessFor("derain", derainProperties(2, 1), caps),
                              gst_test::harnessFor("derain", derainProperties(2, 2), caps)};
  std::vector<cv::Mat> together[2];
  std::thread other([&] { together[1] = derainAll(harnesses[1], inputs, caps); });
  together[0] = derainAll(harnesses[0], inputs, caps);
  other.join();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(alone[i].size(), inputs.size());
    ASSERT_EQ(together[i].size(), inputs.size());
    for (size_t k = 0; k < inputs.size(); ++k)
      EXPECT_EQ(gst_test::differingValues(together[i][k], alone[i][k]), 0) << "threads=" << i + 1 << " frame " << k;
    gst_harness_teardown(harnesses[i]);
  }
}

// Negotiating a size whose inference would take very long (and much memory) is immediate: the
// caps reach downstream, and the element has no processing time to report, so none ran.
TEST(DerainNegotiation, CapsRunNoInference) {
  const std::string caps = gst_test::capsString(kRgb, 4096, 4096);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(2), caps);
  GstCaps* downstream = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_NE(downstream, nullptr);
  GstCaps* expected = gst_caps_from_string(caps.c_str());
  EXPECT_TRUE(gst_caps_is_equal(downstream, expected));
  gst_caps_unref(expected);
  gst_caps_unref(downstream);
  const GstClockTime upstream = 5 * GST_MSECOND;
  gst_harness_set_upstream_latency(h, upstream);
  EXPECT_EQ(gst_harness_query_latency(h), upstream);
  gst_harness_teardown(h);
}

// The element's latency after one frame (upstream's taken off).
GstClockTime latencyAfterOneFrame(int max_in_flight) {
  const std::string caps = gst_test::capsString(kRgb, 64, 48);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(max_in_flight), caps);
  const GstClockTime upstream = 5 * GST_MSECOND;
  gst_harness_set_upstream_latency(h, upstream);
  GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(gst_test::testImage(64, 48, 3, 1), caps, 0));
  EXPECT_NE(out, nullptr);
  if (out != nullptr) gst_buffer_unref(out);
  const GstClockTime total = gst_harness_query_latency(h);
  gst_harness_teardown(h);
  return total - upstream;
}

// Each element measures its own frame time, so latencies of different elements are not compared
// (wall-clock); the policy itself is tested on made-up times in test_processing_latency.cpp.
TEST(DerainLatency, IsFramesInFlightTimesTheFrameTime) {
  const GstClockTime two = latencyAfterOneFrame(2);
  const GstClockTime one = latencyAfterOneFrame(1);
  const GstClockTime three = latencyAfterOneFrame(3);
  EXPECT_GT(one, 0u);
  EXPECT_GT(two, 0u);
  EXPECT_EQ(two % 2, 0u) << "2 x a frame time";
  EXPECT_EQ(three % 3, 0u) << "3 x a frame time";
}

TEST(ReadyOnlyProperties, AreRefusedWhilePlaying) {
  const std::string caps = gst_test::capsString(kRgb, 16, 16);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(2), caps);
  ASSERT_EQ(GST_STATE(h->element), GST_STATE_PLAYING);
  g_object_set(h->element, "model", "/elsewhere/other.derain", "threads", 3, "max-in-flight", 5, nullptr);
  gchar* model = nullptr;
  int threads = -1, max_in_flight = -1;
  g_object_get(h->element, "model", &model, "threads", &threads, "max-in-flight", &max_in_flight, nullptr);
  EXPECT_EQ(std::string(model), gst_test::liteModelPath());
  EXPECT_EQ(threads, 1);
  EXPECT_EQ(max_in_flight, 2);
  g_free(model);
  // strength is not one of them.
  g_object_set(h->element, "strength", 0.5, nullptr);
  double strength = 0.0;
  g_object_get(h->element, "strength", &strength, nullptr);
  EXPECT_EQ(strength, 0.5);
  gst_harness_teardown(h);

  GstHarness* r = gst_test::harnessFor("rainmake", {"mode=learned", "model=" + gst_test::liteModelPath(), "threads=1"},
                                       caps);
  g_object_set(r->element, "threads", 2, "model", "/elsewhere/other.derain", nullptr);
  gst_util_set_object_arg(G_OBJECT(r->element), "mode", "procedural");
  g_object_get(r->element, "model", &model, "threads", &threads, nullptr);
  EXPECT_EQ(std::string(model), gst_test::liteModelPath());
  EXPECT_EQ(threads, 1);
  g_free(model);
  gint mode = -1;
  g_object_get(r->element, "mode", &mode, nullptr);
  EXPECT_EQ(mode, 1) << "still learned";
  gst_harness_teardown(r);
}

}  // namespace
