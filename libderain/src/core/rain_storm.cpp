// The storm rain model (see derain/rain_storm.hpp): the procedural renderer's streak splatting for
// two depth layers drawn outside its training ranges, defocused with a Gaussian blur, plus splashes
// and a veil that grows with distance.
#include "derain/rain_storm.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"
#include "derain/rain.hpp"

namespace derain {

namespace {
constexpr double kVeilLevel = 0.85;  // grey level the veil tends to (as the procedural renderer's)

double between(std::mt19937_64& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }

// Where a streak layer's parameters are drawn from (uniformly), per depth.
struct LayerRanges {
  double density[2], angle_jitter[2], length[2], width[2], intensity[2];
};
// Far: dense, short, thin and dim. Near: few, long, wide (beyond the training range's 2.2 px), bright.
constexpr LayerRanges kFarLayer{{0.08, 0.2}, {3.0, 8.0}, {6.0, 20.0}, {0.5, 1.0}, {0.25, 0.45}};
constexpr LayerRanges kNearLayer{{0.01, 0.04}, {2.0, 5.0}, {60.0, 160.0}, {3.0, 6.0}, {0.5, 0.9}};

RainParams drawLayer(std::mt19937_64& rng, const LayerRanges& r, double angle) {
  RainParams p;
  p.angle = angle;
  p.density = between(rng, r.density[0], r.density[1]);
  p.angle_jitter = between(rng, r.angle_jitter[0], r.angle_jitter[1]);
  p.length = between(rng, r.length[0], r.length[1]);
  p.width = between(rng, r.width[0], r.width[1]);
  p.intensity = between(rng, r.intensity[0], r.intensity[1]);
  p.seed = rng();
  return p;
}

// A streak layer of the procedural renderer, defocused.
cv::Mat defocusedLayer(cv::Size size, const RainParams& params, double sigma) {
  cv::Mat layer;
  renderRainLayer(size, layer, params);
  cv::GaussianBlur(layer, layer, cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
  return layer;
}
}  // namespace

void addStormRain(const cv::Mat& src, cv::Mat& dst, uint64_t seed) {
  if (src.empty() || src.type() != CV_8UC3) throw Error("addStormRain: the image must be 8-bit 3-channel");
  std::mt19937_64 rng(seed);
  const cv::Size size = src.size();
  const double angle = between(rng, -25.0, 25.0);  // shared by both layers: one wind

  const RainParams far = drawLayer(rng, kFarLayer, angle), near = drawLayer(rng, kNearLayer, angle);
  const double far_sigma = between(rng, 1.2, 2.0), near_sigma = between(rng, 1.5, 3.0);
  cv::Mat rain = defocusedLayer(size, far, far_sigma) + defocusedLayer(size, near, near_sigma);

  // Splashes: ~1 per 6000 pixels of the lower half, each a flat small ellipse (a crown seen from the
  // side), dimmer than the streaks, slightly blurred.
  cv::Mat splashes = cv::Mat::zeros(size, CV_32FC1);
  const int count = static_cast<int>(size.area() / 12000);
  for (int i = 0; i < count; ++i) {
    const cv::Point centre(static_cast<int>(between(rng, 0.0, size.width)),
                           static_cast<int>(between(rng, size.height / 2.0, size.height)));
    const double radius = between(rng, 0.8, 2.0);
    const cv::Size axes(std::max(1, static_cast<int>(std::lround(radius * 2.0))),
                        std::max(1, static_cast<int>(std::lround(radius * 0.6))));
    cv::ellipse(splashes, centre, axes, 0.0, 0.0, 360.0, cv::Scalar(between(rng, 0.15, 0.4)), cv::FILLED, cv::LINE_AA);
  }
  cv::GaussianBlur(splashes, splashes, cv::Size(), 0.8, 0.8, cv::BORDER_REFLECT);
  rain += splashes;

  const double haze_bottom = between(rng, 0.02, 0.08), haze_top = between(rng, 0.12, 0.3);
  cv::Mat out(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    const double t = size.height > 1 ? static_cast<double>(y) / (size.height - 1) : 1.0;  // 0 top, 1 bottom
    const float haze = static_cast<float>(haze_top + (haze_bottom - haze_top) * t);
    const float veil = haze * static_cast<float>(kVeilLevel);
    const uint8_t* in = src.ptr<uint8_t>(y);
    const float* r = rain.ptr<float>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < size.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float b = in[3 * x + c] / 255.0f;
        const float v = std::min(1.0f, (1.0f - haze) * b + veil + std::max(0.0f, r[x]));
        // Never below the input (the veil pulls a very bright pixel down toward 0.85: kept as it was).
        o[3 * x + c] = std::max(in[3 * x + c], cv::saturate_cast<uint8_t>(v * 255.0f));
      }
  }
  dst = out;
}

}  // namespace derain
