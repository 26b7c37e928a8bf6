// Paired synthetic rainy video (see derain/rain_video.hpp): a camera path over a still, falling rain
// particles rendered as motion-blurred streaks, an optional sprite.
#include "derain/rain_video.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"

namespace derain {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Camera paths at motion_speed 1 (output pixels / fractions per frame).
constexpr double kPanPixelsPerFrame = 4.0;
constexpr double kZoomPerFrame = 0.012;        // window shrinks by 1.2 % a frame
constexpr double kForwardPerFrame = 0.008;     // expansion rate at the start; doubles by the end
constexpr double kForwardFocusHeight = 0.42;   // focus of expansion, fraction of the height (near a horizon)
constexpr double kForwardMargin = 0.96;        // start window a little inside the still: room for the bob
constexpr double kForwardBobPixels = 1.5;      // vertical bob amplitude of a car on a road
constexpr double kForwardBobPeriod = 9.0;      // frames
constexpr double kShakeScale = 0.88;           // shaking window: room for the jitter on every side
constexpr double kShakePixels = 3.0;           // translation amplitude
constexpr double kShakeDegrees = 0.4;          // rotation amplitude

// Rain streaks, as derain/rain.hpp renders them.
constexpr double kFwhmPerSigma = 2.3548200450309493;
constexpr double kPixelVariance = 1.0 / 12.0;
constexpr double kCutoffSigmas = 3.0;
constexpr double kLengthSpread = 0.4;    // per-drop length (and speed) in [1 - s, 1 + s] x length
constexpr double kMinBrightness = 0.3;   // per-drop brightness in [0.3, 1] x intensity
constexpr double kTaperFraction = 0.25;
constexpr double kVeilLevel = 0.85;

// Sprite (a car-like box crossing the frame).
constexpr double kObjectWidth = 0.16, kObjectHeight = 0.14;  // fractions of the frame
constexpr double kObjectPixelsPerFrame = 6.0;

void checkRange(const char* name, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    throw Error(std::string("rain video parameter ") + name + " = " + std::to_string(value) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// --- camera ---------------------------------------------------------------------------------------------

// Output pixel u -> still point p(u) = anchor_still + scale R(angle) (u - anchor_out), as warpAffine's
// inverse map.
struct CameraPose {
  double scale;          // still pixels per output pixel
  double angle;          // radians
  cv::Point2d anchor_out, anchor_still;
};

cv::Mat inverseMap(const CameraPose& pose) {
  const double c = pose.scale * std::cos(pose.angle), s = pose.scale * std::sin(pose.angle);
  cv::Mat m = (cv::Mat_<double>(2, 3) << c, -s, 0, s, c, 0);
  m.at<double>(0, 2) = pose.anchor_still.x - (c * pose.anchor_out.x - s * pose.anchor_out.y);
  m.at<double>(1, 2) = pose.anchor_still.y - (s * pose.anchor_out.x + c * pose.anchor_out.y);
  return m;
}

std::vector<CameraPose> cameraPath(cv::Size still, const RainVideoParams& p, std::mt19937_64& rng) {
  const double W = p.size.width, H = p.size.height;
  const double sw = still.width - 1.0, sh = still.height - 1.0;  // last pixel centre
  const double fit = std::min(sw / W, sh / H);                    // largest window inside the still
  const cv::Point2d centre_out((W - 1) / 2, (H - 1) / 2), centre_still(sw / 2, sh / 2);
  const int n = p.frames;
  std::vector<CameraPose> path(n, CameraPose{fit, 0.0, centre_out, centre_still});
  // Every mode draws the same number of values, so the rain drawn after them does not depend on the mode.
  const double direction = uniform01(rng) < 0.5 ? -1.0 : 1.0;
  double phase[3], freq[3];
  for (int i = 0; i < 3; ++i) {
    phase[i] = 2 * kPi * uniform01(rng);
    freq[i] = 0.35 + 0.9 * uniform01(rng);  // radians per frame: jitter, not drift
  }
  switch (p.motion) {
    case CameraMotion::Static:
      break;
    case CameraMotion::Pan: {
      const double speed = kPanPixelsPerFrame * p.motion_speed, travel = speed * (n - 1);
      const double scale = std::min(sw / (W + travel), sh / H);
      for (int t = 0; t < n; ++t) {
        const double offset = scale * (speed * t - travel / 2);  // still pixels from the centre
        path[t] = {scale, 0.0, centre_out, {centre_still.x + direction * offset, centre_still.y}};
      }
      break;
    }
    case CameraMotion::Zoom:
      for (int t = 0; t < n; ++t)
        path[t].scale = fit / std::pow(1.0 + kZoomPerFrame * p.motion_speed, t);
      break;
    case CameraMotion::Forward: {
      const cv::Point2d focus_out(centre_out.x, kForwardFocusHeight * (H - 1));
      const double scale0 = fit * kForwardMargin;
      const cv::Point2d focus_still = centre_still + scale0 * (focus_out - centre_out);
      double scale = scale0;
      for (int t = 0; t < n; ++t) {
        if (t > 0) scale /= 1.0 + kForwardPerFrame * p.motion_speed * (1.0 + static_cast<double>(t) / n);
        const double bob = kForwardBobPixels * p.motion_speed * std::sin(2 * kPi * t / kForwardBobPeriod);
        path[t] = {scale, 0.0, focus_out, {focus_still.x, focus_still.y + scale * bob}};
      }
      break;
    }
    case CameraMotion::Shake:
      for (int t = 0; t < n; ++t) {
        const double a = kShakePixels * p.motion_speed * fit * kShakeScale;
        const double dx = a * (0.6 * std::sin(freq[0] * t + phase[0]) + 0.4 * std::sin(2.1 * freq[1] * t + phase[1]));
        const double dy = a * (0.6 * std::sin(freq[1] * t + phase[1]) + 0.4 * std::sin(1.7 * freq[2] * t + phase[2]));
        const double angle = kShakeDegrees * p.motion_speed * kPi / 180 * std::sin(freq[2] * t + phase[2]);
        path[t] = {fit * kShakeScale, angle, centre_out, {centre_still.x + dx, centre_still.y + dy}};
      }
      break;
  }
  return path;
}

// --- rain -------------------------------------------------------------------------------------------------

// A drop keeps its direction, length and brightness; it falls by fall_speed x its length a frame.
struct Drop {
  double x, y;     // streak centre, output pixels
  double dx, dy;   // unit direction of the fall (down the streak)
  double length;   // streak length, pixels
  double peak;     // brightness at the core, 0..1
};

std::pair<double, double> slab(double a, double b, double lo, double hi) {
  if (std::abs(a) < 1e-12) return (b >= lo && b <= hi) ? std::make_pair(-1e300, 1e300) : std::make_pair(1.0, 0.0);
  double x1 = (lo - b) / a, x2 = (hi - b) / a;
  if (x1 > x2) std::swap(x1, x2);
  return {x1, x2};
}

// Adds a streak (segment with a Gaussian cross-section and tapered ends) into a CV_32FC1 layer.
void splat(cv::Mat& layer, const Drop& d, double sigma, double radius) {
  const double x0 = d.x - d.dx * d.length / 2, y0 = d.y - d.dy * d.length / 2;
  const double taper = std::max(1.0, kTaperFraction * d.length), inv2var = 1.0 / (2.0 * sigma * sigma);
  const double y1 = y0 + d.dy * d.length;
  const int row_begin = std::max(0, static_cast<int>(std::ceil(std::min(y0, y1) - radius)));
  const int row_end = std::min(layer.rows - 1, static_cast<int>(std::floor(std::max(y0, y1) + radius)));
  for (int y = row_begin; y <= row_end; ++y) {
    const double vy = y - y0;
    const auto along = slab(d.dx, -x0 * d.dx + vy * d.dy, 0.0, d.length);
    const auto across = slab(d.dy, -x0 * d.dy - vy * d.dx, -radius, radius);
    const double lo = std::max({along.first, across.first, 0.0});
    const double hi = std::min({along.second, across.second, layer.cols - 1.0});
    if (lo > hi) continue;
    float* row = layer.ptr<float>(y);
    for (int x = static_cast<int>(std::ceil(lo)); x <= static_cast<int>(std::floor(hi)); ++x) {
      const double vx = x - x0, s = vx * d.dx + vy * d.dy, perp = vx * d.dy - vy * d.dx;
      const double ends = std::min(1.0, std::min(s, d.length - s) / taper);
      if (ends > 0.0) row[x] += static_cast<float>(d.peak * ends * std::exp(-perp * perp * inv2var));
    }
  }
}

class RainParticles {
 public:
  RainParticles(cv::Size size, const RainVideoParams& p, std::mt19937_64& rng) : rng_(rng), fall_(p.fall_speed) {
    const RainParams& r = p.rain;
    const double sigma_core = r.width / kFwhmPerSigma;
    sigma_ = std::sqrt(sigma_core * sigma_core + kPixelVariance);
    radius_ = kCutoffSigmas * sigma_;
    const double peak_scale = sigma_core / sigma_;
    // Drops live in the frame grown by a longest streak plus its fall, so none pops in or out in view.
    const double longest = r.length * (1.0 + kLengthSpread);
    margin_ = longest * (0.5 + fall_) + radius_;
    width_ = size.width + 2 * margin_;
    height_ = size.height + 2 * margin_;
    const auto count = static_cast<int64_t>(std::llround(r.density * width_ * height_ / (r.length * r.width)));
    drops_.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      Drop d;
      d.x = -margin_ + width_ * uniform01(rng_);
      d.y = -margin_ + height_ * uniform01(rng_);
      const double angle = (r.angle + r.angle_jitter * (2.0 * uniform01(rng_) - 1.0)) * kPi / 180.0;
      d.dx = -std::sin(angle);  // positive angles tilt the top to the right: falling moves left
      d.dy = std::cos(angle);
      d.length = std::max(1.0, r.length * (1.0 + kLengthSpread * (2.0 * uniform01(rng_) - 1.0)));
      d.peak = r.intensity * (kMinBrightness + (1.0 - kMinBrightness) * uniform01(rng_)) * peak_scale;
      drops_.push_back(d);
    }
  }

  void render(cv::Size size, cv::Mat& layer) const {
    layer.create(size, CV_32FC1);
    layer.setTo(0.0f);
    for (const Drop& d : drops_) splat(layer, d, sigma_, radius_);
  }

  // One frame later: every drop falls; one leaving the bottom re-enters at the top at a new x.
  void advance() {
    for (Drop& d : drops_) {
      const double step = fall_ * d.length;
      d.x += d.dx * step;
      d.y += d.dy * step;
      if (d.y > height_ - margin_) {
        d.y -= height_;
        d.x = -margin_ + width_ * uniform01(rng_);
      }
      if (d.x < -margin_) d.x += width_;
      if (d.x > width_ - margin_) d.x -= width_;
    }
  }

 private:
  std::mt19937_64& rng_;
  double fall_, sigma_ = 1, radius_ = 3, margin_ = 0, width_ = 0, height_ = 0;
  std::vector<Drop> drops_;
};

// O = min(255, (1 - haze) B + haze * veil + S), rounded, the same S on every channel.
void composite(const cv::Mat& clean, const cv::Mat& layer, double haze, cv::Mat& rainy) {
  rainy.create(clean.size(), CV_8UC3);
  const float keep = static_cast<float>(1.0 - haze), veil = static_cast<float>(haze * kVeilLevel * 255.0);
  for (int y = 0; y < clean.rows; ++y) {
    const uint8_t* s = clean.ptr<uint8_t>(y);
    uint8_t* d = rainy.ptr<uint8_t>(y);
    const float* r = layer.ptr<float>(y);
    for (int x = 0; x < clean.cols; ++x)
      for (int c = 0; c < 3; ++c, ++s, ++d)
        *d = static_cast<uint8_t>(std::min(255.0f, std::floor(keep * *s + veil + 255.0f * r[x] + 0.5f)));
  }
}

// --- moving object ----------------------------------------------------------------------------------------

struct Sprite {
  cv::Mat image, mask;  // CV_8UC3 / CV_8UC1
  double y = 0, x_mid = 0, velocity = 0;  // top-left y; top-left x at mid-clip; pixels per frame
};

Sprite makeSprite(cv::Size frame, int frames, std::mt19937_64& rng) {
  Sprite s;
  const int w = std::max(6, static_cast<int>(frame.width * kObjectWidth));
  const int h = std::max(4, static_cast<int>(frame.height * kObjectHeight));
  auto channel = [&] { return 40 + 200 * uniform01(rng); };
  const cv::Scalar body(channel(), channel(), channel());
  s.image.create(h, w, CV_8UC3);
  s.image.setTo(cv::Scalar(0, 0, 0));
  s.mask = cv::Mat::zeros(h, w, CV_8UC1);
  // A car seen from the side: body, cabin with windows, wheels; edges so the flow can lock on.
  const cv::Rect lower(0, h * 2 / 5, w, h * 2 / 5), cabin(w / 5, h / 8, w * 3 / 5, h * 2 / 5);
  for (cv::Mat* m : {&s.image, &s.mask}) {
    const cv::Scalar c = m == &s.mask ? cv::Scalar(255) : body;
    cv::rectangle(*m, lower, c, cv::FILLED);
    cv::rectangle(*m, cabin, c, cv::FILLED);
    const int r = std::max(1, h / 6);
    for (int wx : {w / 5, w * 4 / 5})
      cv::circle(*m, {wx, h - r - 1}, r, m == &s.mask ? cv::Scalar(255) : cv::Scalar(25, 25, 25), cv::FILLED);
  }
  cv::rectangle(s.image, cv::Rect(cabin.x + 3, cabin.y + 3, cabin.width / 2 - 4, cabin.height - 4),
                cv::Scalar(90, 70, 60), cv::FILLED);
  cv::rectangle(s.image, cv::Rect(cabin.x + cabin.width / 2 + 1, cabin.y + 3, cabin.width / 2 - 4, cabin.height - 4),
                cv::Scalar(90, 70, 60), cv::FILLED);
  cv::line(s.image, {0, h * 3 / 5}, {w - 1, h * 3 / 5}, body * 0.5, std::max(1, h / 20));
  s.y = frame.height * (0.5 + 0.3 * uniform01(rng)) - h / 2.0;
  s.velocity = (uniform01(rng) < 0.5 ? -1.0 : 1.0) * kObjectPixelsPerFrame;
  s.x_mid = (frame.width - w) / 2.0;
  (void)frames;
  return s;
}

void drawSprite(const Sprite& s, int t, int frames, cv::Mat& frame, cv::Mat& mask) {
  mask = cv::Mat::zeros(frame.size(), CV_8UC1);
  const int x = static_cast<int>(std::lround(s.x_mid + s.velocity * (t - (frames - 1) / 2.0)));
  const int y = static_cast<int>(std::lround(s.y));
  const cv::Rect where = cv::Rect(x, y, s.image.cols, s.image.rows) & cv::Rect(0, 0, frame.cols, frame.rows);
  if (where.empty()) return;
  const cv::Rect from(where.x - x, where.y - y, where.width, where.height);
  s.image(from).copyTo(frame(where), s.mask(from));
  s.mask(from).copyTo(mask(where));
}

}  // namespace

CameraMotion parseCameraMotion(const std::string& word) {
  if (word == "static") return CameraMotion::Static;
  if (word == "pan") return CameraMotion::Pan;
  if (word == "zoom") return CameraMotion::Zoom;
  if (word == "forward") return CameraMotion::Forward;
  if (word == "shake") return CameraMotion::Shake;
  throw Error("unknown camera motion '" + word + "' (expected static, pan, zoom, forward or shake)");
}

std::string toString(CameraMotion motion) {
  switch (motion) {
    case CameraMotion::Static: return "static";
    case CameraMotion::Pan: return "pan";
    case CameraMotion::Zoom: return "zoom";
    case CameraMotion::Forward: return "forward";
    case CameraMotion::Shake: return "shake";
  }
  return "?";
}

void RainVideoParams::validate() const {
  checkRange("size.width", size.width, 16, 4096);
  checkRange("size.height", size.height, 16, 4096);
  checkRange("frames", frames, 1, 10000);
  checkRange("motion_speed", motion_speed, 0.0, 4.0);
  checkRange("fall_speed", fall_speed, 0.25, 10.0);
  rain.validate();
}

RainVideo makeRainVideo(const cv::Mat& still, const RainVideoParams& params) {
  params.validate();
  if (still.empty() || still.type() != CV_8UC3 || still.cols < 2 || still.rows < 2)
    throw Error("makeRainVideo: expects a CV_8UC3 still of at least 2x2, got " +
                (still.empty() ? std::string("an empty image") : cv::typeToString(still.type()) + " " +
                 std::to_string(still.cols) + "x" + std::to_string(still.rows)));
  // One generator, drawn in a fixed order: camera, sprite, rain (then re-entering drops frame by frame).
  std::mt19937_64 rng(params.seed);
  const std::vector<CameraPose> path = cameraPath(still.size(), params, rng);
  const Sprite sprite = makeSprite(params.size, params.frames, rng);  // drawn always: same rain either way
  RainParticles rain(params.size, params, rng);

  RainVideo video;
  cv::Mat layer;
  for (int t = 0; t < params.frames; ++t) {
    cv::Mat clean, rainy;
    // Linear interpolation of a magnified still; reflected borders only guard rounding at the edges.
    cv::warpAffine(still, clean, inverseMap(path[t]), params.size, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REFLECT101);
    if (params.moving_object) {
      cv::Mat mask;
      drawSprite(sprite, t, params.frames, clean, mask);
      video.object_masks.push_back(mask);
    }
    if (params.rain.density > 0.0) {
      rain.render(params.size, layer);
      composite(clean, layer, params.rain.haze, rainy);
    } else {
      rainy = clean.clone();
    }
    rain.advance();
    video.clean.push_back(clean);
    video.rainy.push_back(rainy);
  }
  return video;
}

}  // namespace derain
