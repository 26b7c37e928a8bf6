// ProcessingLatency, the element's latency policy, on made-up frame times: the first frame sets it,
// the slowest of the kSettleFrames after the warm-up frames (+ 25 % headroom) sets it once more (down as
// well as up), then only a sustained slowdown raises it; look-ahead time adds to it; reset() starts the
// measurement again. expected() is what the QoS drop uses: frames in flight x the typical frame time.
#include <gtest/gtest.h>

#include "processing_latency.h"

using derain_gst::ProcessingLatency;

namespace {
constexpr GstClockTime kMs = GST_MSECOND;
}

TEST(ProcessingLatency, FirstFrameThenSlowestOfTheSettlingFramesThenOnlySustainedRises) {
  ProcessingLatency latency;
  EXPECT_EQ(latency.latency(), 0u);
  EXPECT_TRUE(latency.record(200 * kMs, 2));  // a cold first frame
  EXPECT_EQ(latency.latency(), 400 * kMs);
  // Settling frames: the latency holds until the last of them, then takes the slowest (60 ms) + 25 %, x 2.
  const GstClockTime settling[ProcessingLatency::kSettleFrames] = {40 * kMs, 55 * kMs, 60 * kMs, 41 * kMs,
                                                                   42 * kMs, 40 * kMs, 43 * kMs, 44 * kMs};
  for (int i = 0; i < ProcessingLatency::kSettleFrames - 1; ++i) {
    EXPECT_FALSE(latency.record(settling[i], 2)) << i;
    EXPECT_EQ(latency.latency(), 400 * kMs);
  }
  EXPECT_TRUE(latency.record(settling[ProcessingLatency::kSettleFrames - 1], 2));
  EXPECT_EQ(latency.latency(), 150 * kMs);
  // Single slow frames do not move it; a running average above 1.5 x 75 ms does.
  EXPECT_FALSE(latency.record(150 * kMs, 2));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(latency.record(45 * kMs, 2));
  EXPECT_EQ(latency.latency(), 150 * kMs);
  bool raised = false;
  for (int i = 0; i < 40 && !raised; ++i) raised = latency.record(200 * kMs, 2);
  EXPECT_TRUE(raised);
  EXPECT_GT(latency.latency(), 2 * 112 * kMs);
  EXPECT_LE(latency.latency(), 2 * 200 * kMs);
}

TEST(ProcessingLatency, HeldBackTimeAddsAndResetMeasuresAgain) {
  ProcessingLatency latency;
  EXPECT_TRUE(latency.setHeldBack(80 * kMs));
  EXPECT_FALSE(latency.setHeldBack(80 * kMs));
  EXPECT_EQ(latency.latency(), 80 * kMs);  // before any frame: the look-ahead alone
  latency.record(30 * kMs, 1);
  EXPECT_EQ(latency.latency(), 110 * kMs);
  latency.reset();  // new caps: the reported latency stays until a frame of the new size is measured
  EXPECT_EQ(latency.latency(), 110 * kMs);
  EXPECT_TRUE(latency.record(70 * kMs, 1));
  EXPECT_EQ(latency.latency(), 150 * kMs);
  latency.clear();
  EXPECT_EQ(latency.latency(), 0u);
}

// A temporal element's first frames with neighbours are slow (its alignment and fusion buffers are
// made then): left out as warm-up, they do not set the latency; counted as settling frames (one
// warm-up frame, the default), the slowest of them would.
TEST(ProcessingLatency, WarmUpFramesAreLeftOutOfTheSettling) {
  const GstClockTime warm_up[3] = {150 * kMs, 90 * kMs, 60 * kMs};
  const GstClockTime settling[ProcessingLatency::kSettleFrames] = {40 * kMs, 48 * kMs, 44 * kMs, 41 * kMs,
                                                                   40 * kMs, 42 * kMs, 43 * kMs, 40 * kMs};
  ProcessingLatency latency;
  latency.setWarmUpFrames(4);
  EXPECT_TRUE(latency.record(200 * kMs, 1));
  for (const GstClockTime ns : warm_up) {
    EXPECT_FALSE(latency.record(ns, 1));
    EXPECT_EQ(latency.latency(), 200 * kMs);  // the first frame's latency holds while warming up
  }
  for (const GstClockTime ns : settling) latency.record(ns, 1);
  EXPECT_EQ(latency.latency(), 60 * kMs);  // 48 ms + 25 %

  ProcessingLatency counted;  // the same frames with one warm-up frame: 150 ms settles it
  counted.record(200 * kMs, 1);
  for (const GstClockTime ns : warm_up) counted.record(ns, 1);
  for (int i = 0; i < ProcessingLatency::kSettleFrames - 3; ++i) counted.record(settling[i], 1);
  EXPECT_EQ(counted.latency(), 187500 * GST_USECOND);
}

// expected(): frames in flight x the newest frame until the latency settles (not the cold first frame,
// which would hold the average up for many frames), then the settling frames' mean, then the running
// average; held-back time adds; 0 before any frame and after reset() until a frame is measured.
TEST(ProcessingLatency, ExpectedIsFramesInFlightTimesTheTypicalFrame) {
  ProcessingLatency latency;
  EXPECT_EQ(latency.expected(), 0u);
  latency.record(200 * kMs, 2);
  EXPECT_EQ(latency.expected(), 400 * kMs);
  latency.record(30 * kMs, 2);
  EXPECT_EQ(latency.expected(), 60 * kMs);  // the newest frame, not an average with the 200 ms one
  const GstClockTime settling[ProcessingLatency::kSettleFrames] = {30 * kMs, 50 * kMs, 30 * kMs, 30 * kMs,
                                                                   30 * kMs, 30 * kMs, 30 * kMs, 30 * kMs};
  for (int i = 1; i < ProcessingLatency::kSettleFrames; ++i) latency.record(settling[i], 2);
  EXPECT_EQ(latency.latency(), 125 * kMs);                  // the bound: 2 x (50 ms + 25 %)
  EXPECT_EQ(latency.expected(), 2 * 32500 * GST_USECOND);   // typical: 2 x the mean, 32.5 ms
  latency.record(42500 * GST_USECOND, 2);                    // running average: 0.9 x 32.5 + 0.1 x 42.5
  EXPECT_EQ(latency.expected(), 2 * 33500 * GST_USECOND);
  latency.setHeldBack(80 * kMs);
  EXPECT_EQ(latency.expected(), 80 * kMs + 2 * 33500 * GST_USECOND);
  latency.reset();
  EXPECT_EQ(latency.expected(), 0u);
  latency.record(20 * kMs, 1);
  EXPECT_EQ(latency.expected(), 100 * kMs);
}
