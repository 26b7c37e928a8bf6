// ProcessingLatency, the element's latency policy, on made-up frame times: the first frame sets it,
// the slowest of the next kSettleFrames (+ 25 % headroom) sets it once more (down as well as up), then
// only a sustained slowdown raises it; look-ahead time adds to it; reset() starts the measurement again.
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
