// Procedural Rain100L-style rain (see derain/rain.hpp for the model). Each streak is splatted analytically
// as a motion-blurred drop: a segment with a Gaussian cross-section and linearly tapered ends, so there is
// no per-frame filtering pass and the cost is proportional to the rain, not to the frame.
#include "derain/rain.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "derain/error.hpp"

namespace derain {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kFwhmPerSigma = 2.3548200450309493;  // 2 sqrt(2 ln 2)
constexpr double kPixelVariance = 1.0 / 12.0;          // variance of a unit box: pixel footprint
constexpr double kCutoffSigmas = 3.0;                  // cross-section ignored beyond this
constexpr double kLengthSpread = 0.4;                  // per-streak length in [1 - s, 1 + s] x length
constexpr double kMinBrightness = 0.3;                 // per-streak brightness in [0.3, 1] x intensity
constexpr double kTaperFraction = 0.25;                // each end fades over this fraction of the length
constexpr double kVeilLevel = 0.85;                    // grey level the haze veil tends to (0..1)

void checkRange(const char* name, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))  // also rejects NaN
    throw Error(std::string("rain parameter ") + name + " = " + std::to_string(value) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// Valid ranges (rain.hpp), shared by RainParams::validate and RainParamRanges::validate.
constexpr const RainParamLimit& kDensity = kRainDensity;
constexpr const RainParamLimit& kAngle = kRainAngle;
constexpr const RainParamLimit& kAngleJitter = kRainAngleJitter;
constexpr const RainParamLimit& kLength = kRainLength;
constexpr const RainParamLimit& kWidth = kRainWidth;
constexpr const RainParamLimit& kIntensity = kRainIntensity;
constexpr const RainParamLimit& kHaze = kRainHaze;

// x-interval (inclusive, real) where lo <= a*x + b <= hi; empty when first > second.
std::pair<double, double> slab(double a, double b, double lo, double hi) {
  if (std::abs(a) < 1e-12) {
    if (b >= lo && b <= hi) return {-1e300, 1e300};
    return {1.0, 0.0};
  }
  double x1 = (lo - b) / a, x2 = (hi - b) / a;
  if (x1 > x2) std::swap(x1, x2);
  return {x1, x2};
}

struct Streak {
  double x0, y0;   // top end, pixel coordinates (pixel centres at integers)
  double dx, dy;   // unit direction from the top end to the bottom end
  double length;   // pixels
  double peak;     // brightness at the core, 0..1
};

// Adds one streak into `layer` (CV_32FC1). Visits, row by row, only the pixels of the capsule
// {0 <= s <= length, |perp| <= radius} where s runs along the streak and perp across it.
void splat(cv::Mat& layer, const Streak& st, double sigma, double radius) {
  const double taper = std::max(1.0, kTaperFraction * st.length);
  const double inv2var = 1.0 / (2.0 * sigma * sigma);
  const double y1 = st.y0 + st.dy * st.length;
  const int row_begin = std::max(0, static_cast<int>(std::ceil(std::min(st.y0, y1) - radius)));
  const int row_end = std::min(layer.rows - 1, static_cast<int>(std::floor(std::max(st.y0, y1) + radius)));
  for (int y = row_begin; y <= row_end; ++y) {
    const double vy = y - st.y0;
    // s(x) = (x - x0) dx + vy dy;  perp(x) = (x - x0) dy - vy dx
    auto along = slab(st.dx, -st.x0 * st.dx + vy * st.dy, 0.0, st.length);
    auto across = slab(st.dy, -st.x0 * st.dy - vy * st.dx, -radius, radius);
    const double lo = std::max({along.first, across.first, 0.0});
    const double hi = std::min({along.second, across.second, layer.cols - 1.0});
    if (lo > hi) continue;
    float* row = layer.ptr<float>(y);
    for (int x = static_cast<int>(std::ceil(lo)); x <= static_cast<int>(std::floor(hi)); ++x) {
      const double vx = x - st.x0;
      const double s = vx * st.dx + vy * st.dy;
      const double perp = vx * st.dy - vy * st.dx;
      const double ends = std::min(1.0, std::min(s, st.length - s) / taper);
      if (ends <= 0.0) continue;
      row[x] += static_cast<float>(st.peak * ends * std::exp(-perp * perp * inv2var));
    }
  }
}

}  // namespace

void RainParams::validate() const {
  checkRange(kDensity.name, density, kDensity.min, kDensity.max);
  checkRange(kAngle.name, angle, kAngle.min, kAngle.max);
  checkRange(kAngleJitter.name, angle_jitter, kAngleJitter.min, kAngleJitter.max);
  checkRange(kLength.name, length, kLength.min, kLength.max);
  checkRange(kWidth.name, width, kWidth.min, kWidth.max);
  checkRange(kIntensity.name, intensity, kIntensity.min, kIntensity.max);
  checkRange(kHaze.name, haze, kHaze.min, kHaze.max);
}

void renderRainLayer(cv::Size size, cv::Mat& layer, const RainParams& p) {
  p.validate();
  if (size.width <= 0 || size.height <= 0)
    throw Error("renderRainLayer: empty size " + std::to_string(size.width) + "x" + std::to_string(size.height));
  layer.create(size, CV_32FC1);
  layer.setTo(0.0f);
  if (p.density <= 0.0) return;

  // A pixel-wide footprint blurs the nominal Gaussian; the peak drops so the streak's energy stays put.
  const double sigma_core = p.width / kFwhmPerSigma;
  const double sigma = std::sqrt(sigma_core * sigma_core + kPixelVariance);
  const double peak_scale = sigma_core / sigma;
  const double radius = kCutoffSigmas * sigma;

  // Centres fall in the frame grown by the longest half-streak, so the borders get as much rain as the
  // middle; the count is scaled to that grown area to keep `density` the in-frame coverage.
  const double margin = 0.5 * p.length * (1.0 + kLengthSpread) + radius;
  const double grown_w = size.width + 2 * margin, grown_h = size.height + 2 * margin;
  const double core_area = p.length * p.width;
  const auto count = static_cast<int64_t>(std::llround(p.density * grown_w * grown_h / core_area));

  std::mt19937_64 rng(p.seed);
  for (int64_t i = 0; i < count; ++i) {
    // Always five draws per streak, in this order: a lower density renders a prefix of the same streaks.
    const double cx = -margin + grown_w * uniform01(rng);
    const double cy = -margin + grown_h * uniform01(rng);
    const double angle = p.angle + p.angle_jitter * (2.0 * uniform01(rng) - 1.0);
    const double length = p.length * (1.0 + kLengthSpread * (2.0 * uniform01(rng) - 1.0));
    const double brightness = p.intensity * (kMinBrightness + (1.0 - kMinBrightness) * uniform01(rng));
    const double theta = angle * kPi / 180.0;
    Streak st;
    // Positive angles tilt the top to the right: going down the streak moves left.
    st.dx = -std::sin(theta);
    st.dy = std::cos(theta);
    st.length = std::max(1.0, length);
    st.x0 = cx - st.dx * st.length / 2;
    st.y0 = cy - st.dy * st.length / 2;
    st.peak = brightness * peak_scale;
    splat(layer, st, sigma, radius);
  }
}

void addRain(const cv::Mat& src, cv::Mat& dst, const RainParams& p) {
  p.validate();
  if (src.empty()) throw Error("addRain: empty image");
  const int depth = src.depth(), channels = src.channels();
  if ((depth != CV_8U && depth != CV_32F) || (channels != 1 && channels != 3 && channels != 4))
    throw Error("addRain: unsupported image type " + cv::typeToString(src.type()) +
                " (CV_8UC1/3/4 or CV_32FC1/3/4)");
  if (p.density <= 0.0) {
    if (dst.data != src.data) src.copyTo(dst);
    return;
  }
  cv::Mat layer;
  renderRainLayer(src.size(), layer, p);

  const cv::Mat in = src;  // keeps the data alive if dst aliases src and gets reallocated
  dst.create(in.size(), in.type());
  const int colour = channels == 4 ? 3 : channels;  // alpha is copied untouched
  const float keep = static_cast<float>(1.0 - p.haze);
  if (depth == CV_8U) {
    const float veil = static_cast<float>(p.haze * kVeilLevel * 255.0);
    for (int y = 0; y < in.rows; ++y) {
      const uint8_t* s = in.ptr<uint8_t>(y);
      uint8_t* d = dst.ptr<uint8_t>(y);
      const float* r = layer.ptr<float>(y);
      for (int x = 0; x < in.cols; ++x, s += channels, d += channels) {
        const float add = veil + 255.0f * r[x];
        for (int c = 0; c < colour; ++c) {
          const float v = std::floor(keep * s[c] + add + 0.5f);
          d[c] = static_cast<uint8_t>(std::min(255.0f, v));
        }
        if (channels == 4) d[3] = s[3];
      }
    }
  } else {
    const float veil = static_cast<float>(p.haze * kVeilLevel);
    for (int y = 0; y < in.rows; ++y) {
      const float* s = in.ptr<float>(y);
      float* d = dst.ptr<float>(y);
      const float* r = layer.ptr<float>(y);
      for (int x = 0; x < in.cols; ++x, s += channels, d += channels) {
        for (int c = 0; c < colour; ++c) d[c] = std::min(1.0f, keep * s[c] + veil + r[x]);
        if (channels == 4) d[3] = s[3];
      }
    }
  }
}

ParamRange parseParamRange(const std::string& text) {
  auto number = [&](const std::string& part) {
    const auto first = part.find_first_not_of(" \t"), last = part.find_last_not_of(" \t");
    if (first != std::string::npos) {
      const std::string trimmed = part.substr(first, last - first + 1);
      try {
        size_t used = 0;
        const double v = std::stod(trimmed, &used);
        if (used == trimmed.size()) return v;
      } catch (const std::exception&) {
      }
    }
    throw Error("'" + text + "' is not a number or a range MIN:MAX");
  };
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    const double v = number(text);
    return {v, v};
  }
  return {number(text.substr(0, colon)), number(text.substr(colon + 1))};
}

void RainParamRanges::validate() const {
  const std::pair<const ParamRange*, RainParamLimit> fields[] = {
      {&density, kDensity}, {&angle, kAngle},         {&angle_jitter, kAngleJitter}, {&length, kLength},
      {&width, kWidth},     {&intensity, kIntensity}, {&haze, kHaze}};
  for (const auto& [range, field] : fields) {
    if (!(range->min <= range->max))
      throw Error(std::string("rain parameter range ") + field.name + " = " + std::to_string(range->min) +
                  ":" + std::to_string(range->max) + " is reversed (min > max)");
    checkRange(field.name, range->min, field.min, field.max);
    checkRange(field.name, range->max, field.min, field.max);
  }
}

RainParams RainParamRanges::sample(std::mt19937_64& rng) const {
  validate();
  auto draw = [&rng](const ParamRange& r) { return r.min + (r.max - r.min) * uniform01(rng); };
  RainParams p;
  p.density = draw(density);
  p.angle = draw(angle);
  p.angle_jitter = draw(angle_jitter);
  p.length = draw(length);
  p.width = draw(width);
  p.intensity = draw(intensity);
  p.haze = draw(haze);
  p.seed = rng();
  return p;
}

}  // namespace derain
