// Statistics of the rain streaks in an image, to compare generated rain (G_R, the procedural
// renderer) with real rain when no clean image exists: streak orientation and brightness histograms
// of the image's thin bright structures. Torch-free, like derain/metrics.hpp.
//
// How: grey levels (0..255) minus their morphological opening by a kRainStatsOpeningSize disc (a
// white top-hat) keep structures thinner than the disc that are brighter than their surroundings;
// pixels above kRainStatsThreshold levels are streak pixels. Their orientation is that of the
// top-hat's structure tensor (Gaussian window, sigma kRainStatsTensorSigma), counted where its
// coherence is at least kRainStatsMinCoherence. Thin bright texture of the scene (wires, highlights,
// foliage) counts too: measure rain-free images of the same kind for the estimator's floor.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include <opencv2/core.hpp>

#include "derain/export.hpp"

namespace derain {

constexpr int kRainStatsOpeningSize = 7;          // px: streaks are thinner, most objects wider
constexpr double kRainStatsThreshold = 8.0;       // levels above the opening: a streak pixel
constexpr double kRainStatsTensorSigma = 2.0;     // px
constexpr double kRainStatsMinCoherence = 0.3;    // 0 isotropic .. 1 one direction
constexpr int kRainStatsOrientationBins = 18;     // 10 degrees each over [-90, 90) from vertical
constexpr int kRainStatsIntensityBins = 5;        // top-hat [8,16) [16,32) [32,64) [64,128) [128,255]

struct DERAIN_API RainStreakStatistics {
  int64_t pixels = 0;         // pixels looked at
  int64_t streak_pixels = 0;  // top-hat >= kRainStatsThreshold
  // Streak pixels with a clear orientation, by angle from vertical (the RainParams::angle convention:
  // positive tilts the top to the right); bin i covers [-90 + 10 i, -80 + 10 i) degrees.
  std::array<double, kRainStatsOrientationBins> orientation{};
  // Streak pixels by top-hat value.
  std::array<double, kRainStatsIntensityBins> intensity{};
  // Sums of cos and sin of twice the angle over the oriented pixels (the mean of axial data).
  double cos2 = 0, sin2 = 0;

  // Pools another image's counts into these (a folder's statistics are its images' pooled).
  void add(const RainStreakStatistics& other);
  double streakShare() const;  // streak_pixels / pixels (0 when empty)
  double meanAngle() const;    // degrees from vertical, the axial mean of the oriented pixels (0 if none)
};

// image: CV_8UC1 or CV_8UC3 (BGR). Throws derain::Error on another type or an empty image.
DERAIN_API RainStreakStatistics measureRainStreaks(const cv::Mat& image);

// Total variation distance between two histograms after normalising each to sum 1: half the sum of
// the absolute differences, 0 (same shape) .. 1 (disjoint). 1 when exactly one of them is empty, 0
// when both are.
template <size_t N>
double histogramDistance(const std::array<double, N>& p, const std::array<double, N>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < N; ++i) sp += p[i], sq += q[i];
  if (sp <= 0 || sq <= 0) return (sp <= 0 && sq <= 0) ? 0.0 : 1.0;
  double d = 0;
  for (size_t i = 0; i < N; ++i) d += std::abs(p[i] / sp - q[i] / sq);
  return 0.5 * d;
}

}  // namespace derain
