// derain with look-ahead: frames held back exactly `lookahead` frames and then equal to
// derain::VideoDerainer's output, with their own timestamps; the latency grows by that many frame
// durations; events keep their place between frames; a flush discards what is held; and a frame
// dropped by QoS leaves the temporal state as if it had never come.
#include <string>
#include <vector>

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <derain/engine.hpp>
#include <derain/video.hpp>

#include "gst_test_support.h"

namespace {

constexpr int kWidth = 48, kHeight = 40, kFps = 30;
constexpr GstClockTime kFrameDuration = GST_SECOND / kFps;

const gst_test::Format& rgb() { return gst_test::allFormats()[0]; }
std::string caps() { return gst_test::capsString(rgb(), kWidth, kHeight, kFps); }

// In the streaming thread (max-in-flight 1): outputs are there as soon as a push returns.
std::vector<std::string> properties(int window, int lookahead) {
  return {"model=" + gst_test::liteModelPath(), "device=cpu", "threads=1", "max-in-flight=1",
          "temporal-window=" + std::to_string(window), "lookahead=" + std::to_string(lookahead)};
}

// One scene with a bright streak moving across it.
std::vector<cv::Mat> streakFrames(int n) {
  const cv::Mat background = gst_test::testImage(kWidth, kHeight, 3, 7);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < n; ++i) {
    cv::Mat frame = background.clone();
    cv::line(frame, cv::Point(4 + 5 * i, 0), cv::Point(8 + 5 * i, kHeight - 1), cv::Scalar::all(250), 1);
    frames.push_back(frame);
  }
  return frames;
}

// What derain::VideoDerainer makes of the frames with the same options (look-ahead flushed at the end).
std::vector<cv::Mat> reference(const std::vector<cv::Mat>& frames, int window, int lookahead) {
  derain::EngineOptions engine_options;
  engine_options.threads = 1;
  engine_options.device = derain::Device::CPU;
  derain::Engine engine(gst_test::liteModelPath(), engine_options);
  derain::VideoOptions options;
  options.temporal_window = window;
  options.lookahead = lookahead;
  options.color_order = rgb().order;
  derain::VideoDerainer video(engine, options);
  std::vector<cv::Mat> out;
  for (const auto& f : frames) video.process(f, out);
  video.flush(out);
  return out;
}

GstBuffer* frameBuffer(const cv::Mat& frame, int k) {
  GstBuffer* buffer = gst_test::bufferFromImage(frame, caps(), k * kFrameDuration);
  GST_BUFFER_DURATION(buffer) = kFrameDuration;
  return buffer;
}

// Pulls every buffer the harness has received so far.
std::vector<GstBuffer*> pullAll(GstHarness* h) {
  std::vector<GstBuffer*> out;
  while (GstBuffer* b = gst_harness_try_pull(h)) out.push_back(b);
  return out;
}

// Custom downstream serialized events received so far (other events are dropped).
int customEventsReceived(GstHarness* h) {
  int n = 0;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    n += GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM;
    gst_event_unref(e);
  }
  return n;
}

}  // namespace

TEST(DerainLookahead, HoldsBackLookaheadFramesAndOutputsTheVideoDerainers) {
  constexpr int kWindow = 3, kLookahead = 2, kFrames = 7;
  const std::vector<cv::Mat> frames = streakFrames(kFrames);
  const std::vector<cv::Mat> expected = reference(frames, kWindow, kLookahead);
  ASSERT_EQ(static_cast<int>(expected.size()), kFrames);

  GstHarness* h = gst_test::harnessFor("derain", properties(kWindow, kLookahead), caps());
  std::vector<GstBuffer*> outputs;
  for (int k = 0; k < kFrames; ++k) {
    ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[k], k)), GST_FLOW_OK);
    for (GstBuffer* b : pullAll(h)) outputs.push_back(b);
    // Frame k - lookahead leaves when frame k arrives, not before.
    EXPECT_EQ(static_cast<int>(outputs.size()), std::max(0, k + 1 - kLookahead)) << "after frame " << k;
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  for (GstBuffer* b : pullAll(h)) outputs.push_back(b);
  ASSERT_EQ(static_cast<int>(outputs.size()), kFrames);
  int differing_from_causal = 0;
  const std::vector<cv::Mat> causal = reference(frames, kWindow, 0);
  for (int k = 0; k < kFrames; ++k) {
    EXPECT_EQ(GST_BUFFER_PTS(outputs[k]), k * kFrameDuration) << "frame " << k;
    EXPECT_EQ(GST_BUFFER_DURATION(outputs[k]), kFrameDuration);
    const cv::Mat image = gst_test::imageFromBuffer(outputs[k], caps());
    EXPECT_EQ(gst_test::differingValues(image, expected[k]), 0) << "frame " << k;
    differing_from_causal += gst_test::differingValues(image, causal[k]) > 0;
    gst_buffer_unref(outputs[k]);
  }
  EXPECT_GT(differing_from_causal, 0) << "the look-ahead frames were not used";
  gst_harness_teardown(h);
}

TEST(DerainLookahead, LatencyGrowsByTheHeldBackFrames) {
  constexpr GstClockTime kUpstream = 7 * GST_MSECOND;
  for (int lookahead : {0, 1, 3}) {
    GstHarness* h = gst_test::harnessFor("derain", properties(2, lookahead), caps());
    gst_harness_set_upstream_latency(h, kUpstream);
    // Before any frame the processing time is unknown (no warm-up): only the held-back frames count.
    EXPECT_EQ(gst_harness_query_latency(h), kUpstream + lookahead * kFrameDuration) << "lookahead " << lookahead;
    gst_harness_teardown(h);
  }
}

TEST(DerainLookahead, SerializedEventsKeepTheirPlaceBetweenFrames) {
  const std::vector<cv::Mat> frames = streakFrames(5);
  GstHarness* h = gst_test::harnessFor("derain", properties(2, 2), caps());
  customEventsReceived(h);  // stream-start, caps, segment
  ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[0], 0)), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[1], 1)), GST_FLOW_OK);
  // An event after frame 1: must reach downstream after frame 1's output, not before.
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                                                             gst_structure_new_empty("after-frame-1"))));
  EXPECT_EQ(customEventsReceived(h), 0);
  ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[2], 2)), GST_FLOW_OK);  // frame 0 leaves
  EXPECT_EQ(pullAll(h).size(), 1u);
  EXPECT_EQ(customEventsReceived(h), 0);
  ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[3], 3)), GST_FLOW_OK);  // frame 1 leaves, then the event
  auto out = pullAll(h);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(GST_BUFFER_PTS(out[0]), kFrameDuration);
  EXPECT_EQ(customEventsReceived(h), 1);
  for (auto* b : out) gst_buffer_unref(b);
  gst_harness_teardown(h);
}

TEST(DerainLookahead, FlushDiscardsWhatIsHeld) {
  const std::vector<cv::Mat> frames = streakFrames(6);
  GstHarness* h = gst_test::harnessFor("derain", properties(2, 2), caps());
  for (int k = 0; k < 3; ++k) ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[k], k)), GST_FLOW_OK);
  for (auto* b : pullAll(h)) gst_buffer_unref(b);  // frame 0
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  for (int k = 3; k < 6; ++k) ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[k], k)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  // Frames 1 and 2 were discarded; 3..5 came out as a sequence of their own.
  const std::vector<cv::Mat> expected = reference({frames[3], frames[4], frames[5]}, 2, 2);
  auto out = pullAll(h);
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(GST_BUFFER_PTS(out[i]), (3 + i) * kFrameDuration);
    EXPECT_EQ(gst_test::differingValues(gst_test::imageFromBuffer(out[i], caps()), expected[i]), 0) << i;
    gst_buffer_unref(out[i]);
  }
  gst_harness_teardown(h);
}

// A frame dropped by QoS never reaches the temporal state: the outputs equal those of a derainer that
// never saw it, and the next output is marked DISCONT. Causal and with look-ahead.
TEST(DerainQos, DroppedFrameLeavesTheTemporalStateAsIfItNeverCame) {
  constexpr int kFrames = 6, kDropped = 3;
  const std::vector<cv::Mat> frames = streakFrames(kFrames);
  std::vector<cv::Mat> kept;
  for (int k = 0; k < kFrames; ++k)
    if (k != kDropped) kept.push_back(frames[k]);
  for (int lookahead : {0, 1}) {
    SCOPED_TRACE("lookahead " + std::to_string(lookahead));
    const std::vector<cv::Mat> expected = reference(kept, 3, lookahead);
    GstHarness* h = gst_test::harnessFor("derain", properties(3, lookahead), caps());
    std::vector<GstBuffer*> out;
    for (int k = 0; k < kFrames; ++k) {
      if (k == kDropped) {
        // The sink says: everything up to this frame's time is too late.
        ASSERT_TRUE(gst_harness_push_upstream_event(
            h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 1.0, 1, k * kFrameDuration)));
      }
      ASSERT_EQ(gst_harness_push(h, frameBuffer(frames[k], k)), GST_FLOW_OK);
    }
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    out = pullAll(h);
    ASSERT_EQ(out.size(), kept.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const int k = static_cast<int>(i < kDropped ? i : i + 1);
      EXPECT_EQ(GST_BUFFER_PTS(out[i]), k * kFrameDuration) << i;
      EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(out[i], GST_BUFFER_FLAG_DISCONT), k == kDropped + 1) << "frame " << k;
      EXPECT_EQ(gst_test::differingValues(gst_test::imageFromBuffer(out[i], caps()), expected[i]), 0) << "frame " << k;
      gst_buffer_unref(out[i]);
    }
    gst_harness_teardown(h);
  }
}

// The look-ahead QoS drop, on a test clock: in a pipeline with a configured latency, a frame that
// cannot reach the sink in time even if processed at once (now + the element's latency is past its
// running time + the pipeline latency) is dropped before the network runs; frames that can, are not.
// Counts only: the margins (a second) dwarf any processing time. Not in a pipeline that is not live
// (a file transcode with a slow network): there nothing waits for the clock, and no frame is dropped.
void pushFramesLateOrNot(bool live, int* expected_out, int* got_out) {
  constexpr GstClockTime kPipelineLatency = GST_SECOND;
  const std::vector<cv::Mat> frames = streakFrames(8);
  GstHarness* h = gst_test::harnessFor("derain", properties(0, 0), caps());
  gst_harness_use_testclock(h);
  gst_harness_set_live(h, live);
  gst_harness_query_latency(h);  // as a pipeline does before configuring its latency
  ASSERT_TRUE(gst_harness_push_upstream_event(h, gst_event_new_latency(kPipelineLatency)));
  // Arrival delay behind each frame's own time: late ones are 2 s behind (past the 1 s latency).
  const bool late[8] = {false, false, true, false, true, true, false, false};
  int expected = 0;
  constexpr GstClockTime kSpacing = 3 * GST_SECOND;  // frames far apart: the clock only moves forward
  for (int k = 0; k < 8; ++k) {
    const GstClockTime pts = k * kSpacing;
    ASSERT_TRUE(gst_harness_set_time(h, pts + (late[k] ? 2 * GST_SECOND : 10 * GST_MSECOND)));
    GstBuffer* buffer = frameBuffer(frames[k], k);
    GST_BUFFER_PTS(buffer) = pts;
    ASSERT_EQ(gst_harness_push(h, buffer), GST_FLOW_OK);
    expected += !(live && late[k]);
  }
  auto out = pullAll(h);
  *expected_out = expected;
  *got_out = static_cast<int>(out.size());
  int i = 0;
  for (int k = 0; k < 8 && i < static_cast<int>(out.size()); ++k) {
    if (live && late[k]) continue;
    EXPECT_EQ(GST_BUFFER_PTS(out[i]), k * kSpacing);
    gst_buffer_unref(out[i++]);
  }
  gst_harness_teardown(h);
}

TEST(DerainQos, FramesThatCannotBeInTimeAreDroppedBeforeInferenceWhenLive) {
  int expected = 0, got = 0;
  pushFramesLateOrNot(true, &expected, &got);
  EXPECT_EQ(expected, 5);
  EXPECT_EQ(got, expected);
  pushFramesLateOrNot(false, &expected, &got);
  EXPECT_EQ(expected, 8);
  EXPECT_EQ(got, expected) << "frames dropped in a pipeline that is not live";
}
