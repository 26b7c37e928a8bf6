// The shipped default model (models/default.derain): it loads, and it removes rain, measured as a
// PSNR gain on generated rainy scenes against their clean originals.
#include <gtest/gtest.h>

#include <filesystem>

#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"

namespace {
constexpr double kMinGainDb = 0.5;  // the gain the shipped model must show on every scene below

std::string shippedModel() {
  const char* path = std::getenv("DERAIN_SHIPPED_MODEL");
  return path ? path : "";
}
}  // namespace

TEST(DefaultModel, LoadsAsATrainedLitePresetModel) {
  if (!std::filesystem::exists(shippedModel())) GTEST_SKIP() << "no default model shipped in models/";
  derain::Engine engine(shippedModel(), derain::EngineOptions{derain::Device::CPU});
  EXPECT_TRUE(engine.trained());
  EXPECT_EQ(engine.config().preset, "lite");
}

TEST(DefaultModel, RaisesPsnrOnGeneratedRainyScenes) {
  if (!std::filesystem::exists(shippedModel())) GTEST_SKIP() << "no default model shipped in models/";
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
  }
}
