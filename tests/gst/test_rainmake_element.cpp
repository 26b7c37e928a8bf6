// rainmake renders exactly derain::addRain (procedural) or Engine::rainmake (learned) with seed + k
// for frame k, in every format and at odd sizes: the same seed gives the same stream, another seed
// another one.
#include <string>
#include <tuple>
#include <vector>

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <derain/engine.hpp>
#include <derain/rain.hpp>

#include "gst_test_support.h"

namespace {

using gst_test::Format;

constexpr int kFps = 30;

// Runs `frames` test pictures (seeded 200 + k) through a rainmake with properties; returns the outputs.
std::vector<cv::Mat> rainOn(const Format& format, cv::Size size, const std::vector<std::string>& properties,
                            int frames) {
  const std::string caps = gst_test::capsString(format, size.width, size.height, kFps);
  GstHarness* h = gst_test::harnessFor("rainmake", properties, caps);
  std::vector<cv::Mat> outputs;
  for (int k = 0; k < frames; ++k) {
    const cv::Mat input = gst_test::testImage(size.width, size.height, format.channels, 200 + k);
    GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, k * GST_SECOND / kFps));
    if (out == nullptr) break;
    outputs.push_back(gst_test::imageFromBuffer(out, caps));
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
  return outputs;
}

derain::RainParams heavyRain(uint64_t seed) {
  derain::RainParams rain;
  rain.density = 0.15;
  rain.angle = 20.0;
  rain.length = 12.0;
  rain.intensity = 0.8;
  rain.haze = 0.1;
  rain.seed = seed;
  return rain;
}

const std::vector<std::string> kHeavyRain{"density=0.15", "angle=20", "length=12", "intensity=0.8", "haze=0.1"};

std::vector<std::string> with(std::vector<std::string> properties, const std::vector<std::string>& more) {
  properties.insert(properties.end(), more.begin(), more.end());
  return properties;
}

class RainmakeFormats : public ::testing::TestWithParam<std::tuple<Format, cv::Size>> {};

TEST_P(RainmakeFormats, ProceduralOutputIsAddRainWithSeedPlusFrameIndex) {
  const auto& [format, size] = GetParam();
  const auto outputs = rainOn(format, size, with(kHeavyRain, {"seed=41"}), 2);
  ASSERT_EQ(outputs.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    const cv::Mat input = gst_test::testImage(size.width, size.height, format.channels, 200 + k);
    cv::Mat expected;
    derain::addRain(input, expected, heavyRain(41 + k));  // keeps a 4th channel, as the element must
    EXPECT_EQ(gst_test::differingValues(outputs[k], expected), 0) << format.name << " frame " << k;
    EXPECT_GT(gst_test::differingValues(outputs[k], input), 0) << "haze alone changes every frame";
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormatsTinyAndOddSizes, RainmakeFormats,
    ::testing::Combine(::testing::ValuesIn(gst_test::allFormats()),
                       ::testing::Values(cv::Size(1, 1), cv::Size(8, 6), cv::Size(13, 7), cv::Size(37, 29))),
    gst_test::formatSizeName);

TEST(RainmakeSeed, SameSeedSameStreamOtherSeedOtherStream) {
  const Format format = gst_test::allFormats()[4];  // RGBx
  const cv::Size size(48, 36);
  const auto first = rainOn(format, size, {"density=0.1", "seed=5"}, 3);
  const auto again = rainOn(format, size, {"density=0.1", "seed=5"}, 3);
  const auto other = rainOn(format, size, {"density=0.1", "seed=6"}, 3);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(again.size(), 3u);
  ASSERT_EQ(other.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(gst_test::differingValues(first[k], again[k]), 0) << "frame " << k;
    EXPECT_GT(gst_test::differingValues(first[k], other[k]), 0) << "frame " << k;
  }
  // Frame 0 of the seed-6 stream is rendered with seed 6 itself.
  const cv::Mat input = gst_test::testImage(size.width, size.height, 4, 200);
  cv::Mat with_seed_6;
  derain::RainParams rain;
  rain.density = 0.1;
  rain.seed = 6;
  derain::addRain(input, with_seed_6, rain);
  EXPECT_EQ(gst_test::differingValues(other[0], with_seed_6), 0);
}

TEST(RainmakeDensity, ZeroDensityIsBitExactInput) {
  const Format format = gst_test::allFormats()[2];  // RGBA
  const auto outputs = rainOn(format, {13, 7}, {"density=0", "haze=0.5", "seed=3"}, 2);
  ASSERT_EQ(outputs.size(), 2u);
  for (int k = 0; k < 2; ++k)
    EXPECT_EQ(gst_test::differingValues(outputs[k], gst_test::testImage(13, 7, 4, 200 + k)), 0);
}

class RainmakeLearned : public ::testing::TestWithParam<Format> {};

TEST_P(RainmakeLearned, OutputIsTheEnginesRainmakeWithSeedPlusFrameIndex) {
  const Format& format = GetParam();
  const cv::Size size(13, 7);
  const auto outputs = rainOn(format, size,
      {"mode=learned", "model=" + gst_test::liteModelPath(), "mask-noise=0.3", "seed=9"}, 2);
  ASSERT_EQ(outputs.size(), 2u);
  derain::Engine engine(gst_test::liteModelPath());
  for (int k = 0; k < 2; ++k) {
    const cv::Mat input = gst_test::testImage(size.width, size.height, format.channels, 200 + k);
    derain::RainmakeOptions options;
    options.mask_noise = 0.3f;
    options.seed = 9 + k;
    cv::Mat expected;
    engine.rainmake(gst_test::colourOf(input), expected, format.order, options);
    EXPECT_EQ(gst_test::differingValues(gst_test::colourOf(outputs[k]), expected), 0) << format.name << " " << k;
    if (format.channels == 4) {
      EXPECT_EQ(gst_test::differingValues(gst_test::channelOf(outputs[k], 3), gst_test::channelOf(input, 3)), 0);
    }
  }
}

// With rain-reference, G_R is driven by that photo's mask: the output is Engine::rainmake with the
// reference (read as BGR, given in the frame's colour order) and seed + k.
void expectReferenceRain(const Format& format, const std::string& model, bool check_reference_matters) {
  const cv::Size size(40, 24);
  const cv::Mat reference_bgr = gst_test::testImage(64, 48, 3, 77);
  const std::string reference_path = gst_test::tempPath("rain-reference-" + std::string(format.name) + ".png");
  ASSERT_TRUE(cv::imwrite(reference_path, reference_bgr));
  const auto outputs = rainOn(format, size,
      {"mode=learned", "model=" + model, "mask-noise=0.3", "seed=9", "rain-reference=" + reference_path}, 2);
  ASSERT_EQ(outputs.size(), 2u);
  derain::Engine engine(model);
  cv::Mat reference = reference_bgr;
  if (format.order == derain::ColorOrder::RGB) cv::cvtColor(reference_bgr, reference, cv::COLOR_BGR2RGB);
  for (int k = 0; k < 2; ++k) {
    const cv::Mat input = gst_test::testImage(size.width, size.height, format.channels, 200 + k);
    cv::Mat expected, own;
    engine.rainmake(gst_test::colourOf(input), expected, format.order, derain::RainmakeOptions{0.3f, 9u + k, reference});
    EXPECT_EQ(gst_test::differingValues(gst_test::colourOf(outputs[k]), expected), 0) << format.name << " " << k;
    if (check_reference_matters) {
      engine.rainmake(gst_test::colourOf(input), own, format.order, derain::RainmakeOptions{0.3f, 9u + k, {}});
      EXPECT_GT(gst_test::differingValues(gst_test::colourOf(outputs[k]), own), 0) << "the reference is used";
    }
  }
}

TEST_P(RainmakeLearned, RainReferenceOutputIsTheEnginesRainmakeWithThatReference) {
  expectReferenceRain(GetParam(), gst_test::liteModelPath(), false);
}

// The untrained test model barely reacts to its mask; the shipped, trained one does, which shows that
// the element passes the reference on (in both colour orders).
TEST(RainmakeReference, ChangesTheRainOfATrainedModel) {
  const std::string model = derain::defaultModelPath();
  if (model.empty()) GTEST_SKIP() << "no default model";
  for (const Format& format : gst_test::allFormats())
    if (format.name == std::string("RGB") || format.name == std::string("BGR")) expectReferenceRain(format, model, true);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RainmakeLearned, ::testing::ValuesIn(gst_test::allFormats()),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
