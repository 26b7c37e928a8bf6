// Rain-streak statistics: procedural rain of a known angle is found at that angle, brighter rain fills
// the brighter bins, a flat image has no streaks, and the histogram distance against hand-computed values.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "derain/error.hpp"
#include "derain/rain.hpp"
#include "derain/rain_statistics.hpp"

namespace {

derain::RainStreakStatistics rainAt(double angle, double intensity, uint64_t seed) {
  const cv::Mat grey(240, 320, CV_8UC3, cv::Scalar(90, 90, 90));
  derain::RainParams rain;
  rain.density = 0.05;
  rain.angle = angle;
  rain.angle_jitter = 2.0;
  rain.length = 30;
  rain.width = 1.0;
  rain.intensity = intensity;
  rain.haze = 0.0;
  rain.seed = seed;
  cv::Mat rainy;
  derain::addRain(grey, rainy, rain);
  return derain::measureRainStreaks(rainy);
}

double meanIntensityBin(const derain::RainStreakStatistics& s) {
  double sum = 0, weighted = 0;
  for (int i = 0; i < derain::kRainStatsIntensityBins; ++i) sum += s.intensity[i], weighted += i * s.intensity[i];
  return weighted / sum;
}

}  // namespace

TEST(RainStatistics, ProceduralRainIsFoundAtItsAngle) {
  for (double angle : {-30.0, 0.0, 20.0, 45.0}) {
    const auto s = rainAt(angle, 0.8, 3);
    EXPECT_GT(s.streakShare(), 0.01) << angle;
    EXPECT_NEAR(s.meanAngle(), angle, 5.0) << angle;
    // The fullest orientation bin is the angle's (or a neighbour, the angle being on an edge).
    int fullest = 0;
    for (int i = 1; i < derain::kRainStatsOrientationBins; ++i)
      if (s.orientation[i] > s.orientation[fullest]) fullest = i;
    EXPECT_NEAR(-90.0 + 10.0 * fullest + 5.0, angle, 10.0) << angle;
  }
}

TEST(RainStatistics, BrighterRainFillsBrighterBinsAndAFlatImageHasNone) {
  EXPECT_GT(meanIntensityBin(rainAt(10, 0.9, 4)), meanIntensityBin(rainAt(10, 0.25, 4)) + 0.5);
  const auto flat = derain::measureRainStreaks(cv::Mat(64, 64, CV_8UC1, cv::Scalar(120)));
  EXPECT_EQ(flat.pixels, 64 * 64);
  EXPECT_EQ(flat.streak_pixels, 0);
  EXPECT_EQ(flat.streakShare(), 0.0);
  EXPECT_THROW(derain::measureRainStreaks(cv::Mat()), derain::Error);
  EXPECT_THROW(derain::measureRainStreaks(cv::Mat(8, 8, CV_32FC3)), derain::Error);
}

TEST(RainStatistics, PoolingAddsCounts) {
  auto a = rainAt(0, 0.8, 5);
  const auto b = rainAt(30, 0.8, 6);
  const int64_t streaks = a.streak_pixels + b.streak_pixels;
  a.add(b);
  EXPECT_EQ(a.streak_pixels, streaks);
  EXPECT_EQ(a.pixels, 2 * 240 * 320);
}

TEST(RainStatistics, HistogramDistanceByHand) {
  using H = std::array<double, 2>;
  EXPECT_DOUBLE_EQ(derain::histogramDistance(H{1, 0}, H{0, 1}), 1.0);
  EXPECT_DOUBLE_EQ(derain::histogramDistance(H{1, 1}, H{5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(derain::histogramDistance(H{3, 1}, H{1, 1}), 0.25);  // (|.75-.5| + |.25-.5|) / 2
  EXPECT_DOUBLE_EQ(derain::histogramDistance(H{0, 0}, H{1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(derain::histogramDistance(H{0, 0}, H{0, 0}), 0.0);
}
