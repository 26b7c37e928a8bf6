#include "derain/rain_statistics.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"

namespace derain {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kIntensityEdges[kRainStatsIntensityBins] = {8, 16, 32, 64, 128};  // lower edges
}  // namespace

void RainStreakStatistics::add(const RainStreakStatistics& other) {
  pixels += other.pixels;
  streak_pixels += other.streak_pixels;
  for (int i = 0; i < kRainStatsOrientationBins; ++i) orientation[i] += other.orientation[i];
  for (int i = 0; i < kRainStatsIntensityBins; ++i) intensity[i] += other.intensity[i];
  cos2 += other.cos2;
  sin2 += other.sin2;
}

double RainStreakStatistics::streakShare() const {
  return pixels > 0 ? static_cast<double>(streak_pixels) / static_cast<double>(pixels) : 0.0;
}

double RainStreakStatistics::meanAngle() const {
  if (cos2 == 0 && sin2 == 0) return 0.0;
  return 0.5 * std::atan2(sin2, cos2) * 180.0 / kPi;
}

RainStreakStatistics measureRainStreaks(const cv::Mat& image) {
  if (image.empty()) throw Error("measureRainStreaks: empty image");
  if (image.type() != CV_8UC1 && image.type() != CV_8UC3)
    throw Error("measureRainStreaks: expected an 8-bit grey or BGR image");
  cv::Mat grey;
  if (image.channels() == 3) cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  else grey = image;
  grey.convertTo(grey, CV_32F);

  cv::Mat top_hat;
  const cv::Mat disc =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, {kRainStatsOpeningSize, kRainStatsOpeningSize});
  cv::morphologyEx(grey, top_hat, cv::MORPH_TOPHAT, disc, {-1, -1}, 1, cv::BORDER_REPLICATE);

  // Structure tensor of the top-hat: its dominant gradient direction, in image coordinates (y down),
  // is the streak's angle from vertical modulo 180 degrees (a vertical streak has horizontal gradients;
  // one whose top leans right has gradients along (1, 1)).
  cv::Mat gx, gy, jxx, jyy, jxy;
  cv::Sobel(top_hat, gx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REPLICATE);
  cv::Sobel(top_hat, gy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REPLICATE);
  const cv::Size window(0, 0);
  cv::GaussianBlur(gx.mul(gx), jxx, window, kRainStatsTensorSigma, 0, cv::BORDER_REPLICATE);
  cv::GaussianBlur(gy.mul(gy), jyy, window, kRainStatsTensorSigma, 0, cv::BORDER_REPLICATE);
  cv::GaussianBlur(gx.mul(gy), jxy, window, kRainStatsTensorSigma, 0, cv::BORDER_REPLICATE);

  RainStreakStatistics stats;
  stats.pixels = static_cast<int64_t>(grey.total());
  for (int y = 0; y < grey.rows; ++y) {
    const float* t = top_hat.ptr<float>(y);
    const float *xx = jxx.ptr<float>(y), *yy = jyy.ptr<float>(y), *xy = jxy.ptr<float>(y);
    for (int x = 0; x < grey.cols; ++x) {
      if (t[x] < kRainStatsThreshold) continue;
      ++stats.streak_pixels;
      int bin = kRainStatsIntensityBins - 1;
      while (bin > 0 && t[x] < kIntensityEdges[bin]) --bin;
      stats.intensity[bin] += 1;
      const double trace = static_cast<double>(xx[x]) + yy[x];
      const double diff = static_cast<double>(xx[x]) - yy[x], cross = 2.0 * xy[x];
      const double anisotropy = std::sqrt(diff * diff + cross * cross);
      if (trace <= 0 || anisotropy / trace < kRainStatsMinCoherence) continue;
      const double doubled = std::atan2(cross, diff);  // twice the angle, (-pi, pi]
      double degrees = 0.5 * doubled * 180.0 / kPi;   // (-90, 90]
      if (degrees >= 90.0) degrees -= 180.0;
      const int o = std::min(kRainStatsOrientationBins - 1, static_cast<int>((degrees + 90.0) / 10.0));
      stats.orientation[o] += 1;
      stats.cos2 += std::cos(doubled);
      stats.sin2 += std::sin(doubled);
    }
  }
  return stats;
}

}  // namespace derain
