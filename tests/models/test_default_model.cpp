// The shipped default model (models/default.derain): it loads, and it removes rain, measured as a
// PSNR gain on generated rainy scenes against their clean originals, and it leaves rain-free scenes alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"

namespace {
constexpr double kMinGainDb = 3.0;       // the gain the shipped model must show on every rainy scene below
constexpr double kMinCleanPsnrDb = 35.0;  // how little it may change a scene without rain

std::string shippedModel() {
  const char* path = std::getenv("DERAIN_SHIPPED_MODEL");
  return path ? path : "";
}
}  // namespace

TEST(DefaultModel, LoadsAsATrainedLitePresetModel) {
  ASSERT_TRUE(std::filesystem::is_regular_file(shippedModel())) << "the shipped model is missing: " << shippedModel();
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  EXPECT_TRUE(engine.trained());
  EXPECT_EQ(engine.config().preset, "lite");
  // What it is (models/README.md): the synthetic-pair term dominates its objective.
  EXPECT_EQ(engine.recipe().rfind(
                "semi-supervised (synthetic pairs), shipped default at 32000 iterations: lite preset, 32000 iterations", 0),
            0u)
      << engine.recipe();
  EXPECT_NE(engine.recipe().find("identity 2, synthetic 10"), std::string::npos) << engine.recipe();
}

TEST(DefaultModel, RaisesPsnrOnGeneratedRainyScenes) {
  ASSERT_TRUE(std::filesystem::is_regular_file(shippedModel())) << "the shipped model is missing: " << shippedModel();
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  for (uint64_t seed : {1u, 2u, 3u}) {
    const cv::Mat clean = derain::makeDemoScene({320, 240}, seed);
    derain::RainParams rain;
    rain.density = 0.05;
    rain.angle = 10.0 * static_cast<double>(seed) - 20.0;
    rain.length = 25;
    rain.intensity = 0.6;
    rain.seed = seed;
    cv::Mat rainy, derained;
    derain::addRain(clean, rainy, rain);
    engine.derain(rainy, derained);
    const double before = derain::psnrY(rainy, clean), after = derain::psnrY(derained, clean);
    EXPECT_GT(after, before + kMinGainDb) << "scene " << seed << ": " << before << " dB -> " << after << " dB";
    std::printf("scene %d: rainy %.2f dB, derained %.2f dB\n", static_cast<int>(seed), before, after);
  }
}

TEST(DefaultModel, LeavesARainFreeSceneNearlyUnchanged) {
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  for (uint64_t seed : {4u, 5u}) {
    const cv::Mat clean = derain::makeDemoScene({320, 240}, seed);
    cv::Mat derained;
    engine.derain(clean, derained);
    const double psnr = derain::psnrY(derained, clean);
    EXPECT_GT(psnr, kMinCleanPsnrDb) << "scene " << seed;
    std::printf("rain-free scene %d: %.2f dB after deraining\n", static_cast<int>(seed), psnr);
  }
}

// No colour cast: on a rain-free scene the mean of every channel moves by the same amount (within
// 0.25 levels) with the default grey rain layer; the shipped generator's own output moves the
// channels apart by more than a level (measured 1.29 and 3.13 on these scenes; 3.9-7.0 for the
// 16,000-iteration model shipped before session 11), which is what the grey layer takes out.
TEST(DefaultModel, NoColourCastOnARainFreeScene) {
  derain::EngineOptions raw_options{derain::Device::CPU};
  raw_options.grey_rain = false;
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  derain::Engine raw(shippedModel(), raw_options);
  auto spread = [](const cv::Mat& before, const cv::Mat& after) {
    const cv::Scalar a = cv::mean(before), b = cv::mean(after);
    const double d0 = b[0] - a[0], d1 = b[1] - a[1], d2 = b[2] - a[2];
    return std::max({d0, d1, d2}) - std::min({d0, d1, d2});
  };
  for (uint64_t seed : {4u, 5u}) {
    const cv::Mat clean = derain::makeDemoScene({320, 240}, seed);
    cv::Mat grey_out, raw_out;
    engine.derain(clean, grey_out);
    raw.derain(clean, raw_out);
    EXPECT_LT(spread(clean, grey_out), 0.25) << "scene " << seed;
    EXPECT_GT(spread(clean, raw_out), 1.0) << "scene " << seed << ": the generator no longer tints (update this test)";
  }
}

// The no-tint floor, and what the bounded layer adds to it: on a rain-free scene each
// channel's mean moves by at most 1 level with the default (grey, bounded) layer; the unbounded grey
// layer darkens the same scenes by more (the model's uniform darkening, models/README.md).
TEST(DefaultModel, RainFreeSceneShiftsUnderOneLevel) {
  derain::EngineOptions unbounded_options{derain::Device::CPU};
  unbounded_options.bounded_rain = false;
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  derain::Engine unbounded(shippedModel(), unbounded_options);
  auto largestShift = [](const cv::Mat& before, const cv::Mat& after) {
    const cv::Scalar a = cv::mean(before), b = cv::mean(after);
    return std::max({std::abs(b[0] - a[0]), std::abs(b[1] - a[1]), std::abs(b[2] - a[2])});
  };
  for (uint64_t seed : {4u, 5u}) {
    const cv::Mat clean = derain::makeDemoScene({320, 240}, seed);
    cv::Mat bounded_out, unbounded_out;
    engine.derain(clean, bounded_out);
    unbounded.derain(clean, unbounded_out);
    const double bounded_shift = largestShift(clean, bounded_out), unbounded_shift = largestShift(clean, unbounded_out);
    std::printf("rain-free scene %d: largest channel shift %.2f levels bounded, %.2f unbounded\n",
                static_cast<int>(seed), bounded_shift, unbounded_shift);
    EXPECT_LE(bounded_shift, 1.0) << "scene " << seed;
    EXPECT_GT(unbounded_shift, 1.0) << "scene " << seed << ": the unbounded layer no longer darkens (update this test)";
  }
}
