// derain produces exactly what derain::Engine produces, in every format and at odd sizes; strength
// blends with the input (0 = the input buffer itself); the element reports a latency.
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <gst/base/gstbasetransform.h>
#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <derain/engine.hpp>
#include <derain/video.hpp>

#include "gst_test_support.h"

namespace {

using gst_test::Format;

// The element and the reference engine run on one thread each, so float sums happen in the same order.
const std::vector<std::string> kSingleThread{"threads=1"};

derain::Engine referenceEngine() {
  derain::EngineOptions options;
  options.threads = 1;
  options.device = derain::Device::CPU;
  return derain::Engine(gst_test::liteModelPath(), options);
}

// Frame by frame (temporal-window=0): these tests compare each frame with the engine's output.
std::vector<std::string> derainProperties(std::vector<std::string> extra = {}) {
  extra.push_back("model=" + gst_test::liteModelPath());
  extra.push_back("temporal-window=0");
  extra.push_back("device=cpu");
  extra.insert(extra.end(), kSingleThread.begin(), kSingleThread.end());
  return extra;
}

class DerainFormats : public ::testing::TestWithParam<std::tuple<Format, cv::Size>> {};

TEST_P(DerainFormats, OutputIsTheEnginesOutputAndTheFourthByteSurvives) {
  const auto& [format, size] = GetParam();
  const std::string caps = gst_test::capsString(format, size.width, size.height);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(), caps);
  derain::Engine engine = referenceEngine();

  for (int k = 0; k < 2; ++k) {
    const cv::Mat input = gst_test::testImage(size.width, size.height, format.channels, 100 + k);
    GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, k * GST_SECOND / 30));
    ASSERT_NE(out, nullptr);
    const cv::Mat output = gst_test::imageFromBuffer(out, caps);
    gst_buffer_unref(out);

    cv::Mat expected;
    engine.derain(gst_test::colourOf(input), expected, format.order);
    ASSERT_EQ(output.size(), input.size());
    EXPECT_EQ(gst_test::differingValues(gst_test::colourOf(output), expected), 0) << format.name << " frame " << k;
    if (format.channels == 4) {
      EXPECT_EQ(gst_test::differingValues(gst_test::channelOf(output, 3), gst_test::channelOf(input, 3)), 0)
          << format.name << ": 4th byte changed";
    }
    // An untrained network does change the picture: the comparison above is not input == input. (Not
    // in a 1-pixel-wide frame: its pixel is its own row background, so the bounded rain layer is 0.)
    if (size.width > 1) {
      EXPECT_GT(gst_test::differingValues(gst_test::colourOf(output), gst_test::colourOf(input)), 0);
    }
  }
  gst_harness_teardown(h);
}

INSTANTIATE_TEST_SUITE_P(AllFormatsTinyAndOddSizes, DerainFormats,
    ::testing::Combine(::testing::ValuesIn(gst_test::allFormats()),
                       ::testing::Values(cv::Size(1, 1), cv::Size(8, 6), cv::Size(13, 7), cv::Size(37, 29))),
    gst_test::formatSizeName);

class DerainPassthrough : public ::testing::TestWithParam<Format> {};

TEST_P(DerainPassthrough, StrengthZeroGivesTheInputBitExact) {
  const Format& format = GetParam();
  const std::string caps = gst_test::capsString(format, 13, 7);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties({"strength=0"}), caps);

  const cv::Mat input = gst_test::testImage(13, 7, format.channels, 7);
  GstBuffer* in = gst_test::bufferFromImage(input, caps, 0);
  GstMapInfo in_map;
  gst_buffer_map(in, &in_map, GST_MAP_READ);
  const std::string in_bytes(reinterpret_cast<const char*>(in_map.data), in_map.size);
  gst_buffer_unmap(in, &in_map);

  GstBuffer* out = gst_harness_push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  GstMapInfo out_map;
  gst_buffer_map(out, &out_map, GST_MAP_READ);
  const std::string out_bytes(reinterpret_cast<const char*>(out_map.data), out_map.size);
  gst_buffer_unmap(out, &out_map);
  EXPECT_EQ(out_bytes, in_bytes);  // every byte, row padding included
  EXPECT_TRUE(gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(h->element)));
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, DerainPassthrough, ::testing::ValuesIn(gst_test::allFormats()),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DerainStrength, HalfStrengthIsTheMeanOfInputAndDerained) {
  const Format format = gst_test::allFormats()[3];  // BGRA
  const std::string caps = gst_test::capsString(format, 21, 11);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties({"strength=0.5"}), caps);
  const cv::Mat input = gst_test::testImage(21, 11, 4, 3);
  GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, 0));
  ASSERT_NE(out, nullptr);
  const cv::Mat output = gst_test::imageFromBuffer(out, caps);
  gst_buffer_unref(out);
  gst_harness_teardown(h);

  cv::Mat derained;
  referenceEngine().derain(gst_test::colourOf(input), derained, format.order);
  const cv::Mat colour_in = gst_test::colourOf(input), colour_out = gst_test::colourOf(output);
  int off_by_more_than_rounding = 0, changed = 0;
  for (int y = 0; y < input.rows; ++y)
    for (int x = 0; x < input.cols; ++x)
      for (int c = 0; c < 3; ++c) {
        const double mean = 0.5 * colour_in.at<cv::Vec3b>(y, x)[c] + 0.5 * derained.at<cv::Vec3b>(y, x)[c];
        const int got = colour_out.at<cv::Vec3b>(y, x)[c];
        if (std::abs(got - mean) > 0.5 + 1e-9) ++off_by_more_than_rounding;
        if (got != colour_in.at<cv::Vec3b>(y, x)[c]) ++changed;
      }
  EXPECT_EQ(off_by_more_than_rounding, 0);
  EXPECT_GT(changed, 0);
  EXPECT_EQ(gst_test::differingValues(gst_test::channelOf(output, 3), gst_test::channelOf(input, 3)), 0);
}

TEST(DerainStrength, RaisingStrengthWhilePlayingLeavesPassthrough) {
  const Format format = gst_test::allFormats()[0];  // RGB
  const std::string caps = gst_test::capsString(format, 16, 12);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties({"strength=0"}), caps);
  const cv::Mat input = gst_test::testImage(16, 12, 3, 11);

  GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, 0));
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(gst_test::differingValues(gst_test::imageFromBuffer(out, caps), input), 0);
  gst_buffer_unref(out);

  g_object_set(h->element, "strength", 1.0, nullptr);
  out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, GST_SECOND / 30));
  ASSERT_NE(out, nullptr);
  cv::Mat expected;
  referenceEngine().derain(input, expected, format.order);
  EXPECT_EQ(gst_test::differingValues(gst_test::imageFromBuffer(out, caps), expected), 0);
  EXPECT_FALSE(gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(h->element)));
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

// An engine property reaches the engine: one RGB frame through the element set with `properties`
// equals the engine's output under `options` (threads 1, CPU, as the element's), and differs from the
// default output (else the check would mean little).
void expectPropertiesReachTheEngine(const std::vector<std::string>& properties, derain::EngineOptions options) {
  const Format format = gst_test::allFormats()[0];  // RGB
  const cv::Size size(37, 29);
  const std::string caps = gst_test::capsString(format, size.width, size.height);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(properties), caps);
  const cv::Mat input = gst_test::testImage(size.width, size.height, 3, 21);
  GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, 0));
  ASSERT_NE(out, nullptr);
  const cv::Mat output = gst_test::imageFromBuffer(out, caps);
  gst_buffer_unref(out);
  gst_harness_teardown(h);

  options.threads = 1;
  options.device = derain::Device::CPU;
  cv::Mat expected, plain;
  derain::Engine(gst_test::liteModelPath(), options).derain(input, expected, format.order);
  referenceEngine().derain(input, plain, format.order);
  EXPECT_EQ(gst_test::differingValues(output, expected), 0);
  EXPECT_GT(gst_test::differingValues(expected, plain), 0) << "the properties must make a difference here";
}

TEST(DerainOptions, TilingPropertiesReachTheEngine) {
  derain::EngineOptions options;
  options.tile_size = 16;
  options.tile_overlap = 4;
  expectPropertiesReachTheEngine({"tile-size=16", "tile-overlap=4"}, options);
}

// rain-strength acts inside the engine, not as a blend after it like strength.
TEST(DerainOptions, RainStrengthReachesTheEngine) {
  derain::EngineOptions options;
  options.rain_strength = 2.5f;
  expectPropertiesReachTheEngine({"rain-strength=2.5"}, options);
}

TEST(DerainLatency, ProcessingTimeIsAddedToUpstreamLatency) {
  const Format format = gst_test::allFormats()[0];
  const std::string caps = gst_test::capsString(format, 64, 48);
  GstHarness* h = gst_test::harnessFor("derain", derainProperties(), caps);
  const GstClockTime upstream = 5 * GST_MSECOND;
  gst_harness_set_upstream_latency(h, upstream);
  GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(gst_test::testImage(64, 48, 3, 1), caps, 0));
  ASSERT_NE(out, nullptr);
  gst_buffer_unref(out);

  // The element's share is a measured time: only its presence is asserted, not its size.
  EXPECT_GT(gst_harness_query_latency(h), upstream);
  gst_harness_teardown(h);
}

TEST(DerainQos, FramesLateAtTheSinkAreDroppedUnlessQosIsOff) {
  const Format format = gst_test::allFormats()[0];
  const std::string caps = gst_test::capsString(format, 16, 12);
  for (const char* in_flight : {"max-in-flight=1", "max-in-flight=2"})
  for (const bool qos : {true, false}) {
    GstHarness* h = gst_test::harnessFor("derain", derainProperties({qos ? "qos=true" : "qos=false", in_flight}), caps);
    const cv::Mat input = gst_test::testImage(16, 12, 3, 5);
    EXPECT_EQ(gst_harness_push(h, gst_test::bufferFromImage(input, caps, 0)), GST_FLOW_OK);
    // Downstream says: the frame at 1 s came 1 s late, so nothing before 2 s can be shown in time.
    gst_harness_push_upstream_event(h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 2.0, GST_SECOND, GST_SECOND));
    EXPECT_EQ(gst_harness_push(h, gst_test::bufferFromImage(input, caps, 3 * GST_SECOND / 2)), GST_FLOW_OK);
    EXPECT_EQ(gst_harness_push(h, gst_test::bufferFromImage(input, caps, 3 * GST_SECOND)), GST_FLOW_OK);
    // EOS goes on after the frames in flight: then every frame that will come out is out.
    EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    // With QoS the frame at 1.5 s is dropped; without, every frame comes out.
    EXPECT_EQ(gst_harness_buffers_received(h), qos ? 2u : 3u) << "qos=" << qos << " " << in_flight;
    gst_harness_teardown(h);
  }
}

}  // namespace

// Temporal mode: the element's frames are exactly derain::VideoDerainer's over the same frames; a
// DISCONT buffer and a flush start the sequence afresh (the frame after them equals a frame
// derained alone); caps of the default element ask for it.
TEST(DerainTemporal, OutputIsTheVideoDerainersAndDiscontinuitiesRestart) {
  const Format format = gst_test::allFormats()[0];  // RGB
  ASSERT_EQ(format.channels, 3);
  const int width = 48, height = 40;
  const std::string caps = gst_test::capsString(format, width, height);
  auto properties = derainProperties();
  properties.erase(std::find(properties.begin(), properties.end(), "temporal-window=0"));
  properties.push_back("temporal-window=3");
  properties.push_back("max-in-flight=1");
  GstHarness* h = gst_test::harnessFor("derain", properties, caps);

  // One scene, a bright streak moving across it.
  const cv::Mat background = gst_test::testImage(width, height, 3, 7);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 6; ++i) {
    cv::Mat frame = background.clone();
    cv::line(frame, cv::Point(4 + 7 * i, 0), cv::Point(8 + 7 * i, height - 1), cv::Scalar::all(250), 1);
    frames.push_back(frame);
  }
  derain::Engine engine = referenceEngine();
  derain::VideoOptions options;
  options.temporal_window = 3;
  options.color_order = format.order;
  derain::VideoDerainer video(engine, options);
  std::vector<cv::Mat> expected;
  for (const auto& f : frames) video.process(f, expected);
  ASSERT_EQ(expected.size(), frames.size());

  auto push = [&](const cv::Mat& frame, int k, bool discont) {
    GstBuffer* in = gst_test::bufferFromImage(frame, caps, k * GST_SECOND / 30);
    if (discont) GST_BUFFER_FLAG_SET(in, GST_BUFFER_FLAG_DISCONT);
    GstBuffer* out = gst_harness_push_and_pull(h, in);
    EXPECT_NE(out, nullptr);
    cv::Mat image = out != nullptr ? gst_test::imageFromBuffer(out, caps) : cv::Mat();
    if (out != nullptr) gst_buffer_unref(out);
    return image;
  };
  int differing_from_alone = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const cv::Mat out = push(frames[i], static_cast<int>(i), false);
    EXPECT_EQ(gst_test::differingValues(out, expected[i]), 0) << "frame " << i;
    cv::Mat alone;
    engine.derain(frames[i], alone, format.order);
    differing_from_alone += gst_test::differingValues(out, alone) > 0;
  }
  EXPECT_GT(differing_from_alone, 0) << "temporal mode gave exactly the frame-by-frame output";

  cv::Mat alone;
  engine.derain(frames[3], alone, format.order);
  EXPECT_EQ(gst_test::differingValues(push(frames[3], 10, true), alone), 0) << "DISCONT did not restart";
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  engine.derain(frames[4], alone, format.order);
  EXPECT_EQ(gst_test::differingValues(push(frames[4], 11, false), alone), 0) << "flush did not restart";
  gst_harness_teardown(h);

  GstElement* plain = gst_element_factory_make("derain", nullptr);
  gint window = -1;
  g_object_get(plain, "temporal-window", &window, nullptr);
  EXPECT_EQ(window, derain::VideoOptions().temporal_window);
  gst_object_unref(plain);
}
