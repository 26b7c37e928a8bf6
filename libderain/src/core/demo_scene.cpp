#include "derain/demo_scene.hpp"

#include <algorithm>
#include <random>

#include <opencv2/imgproc.hpp>

#include "derain/rain.hpp"  // uniform01: portable random doubles

namespace derain {

namespace {
constexpr double kHorizon = 0.55;  // fraction of the height where the road starts
constexpr int kBuildings = 9;
constexpr int kCars = 3;

cv::Scalar randomColour(std::mt19937_64& rng, int lo, int hi) {
  auto c = [&] { return lo + (hi - lo) * uniform01(rng); };
  return cv::Scalar(c(), c(), c());
}
}  // namespace

cv::Mat makeDemoScene(cv::Size size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int w = std::max(1, size.width), h = std::max(1, size.height);
  cv::Mat scene(h, w, CV_8UC3);
  const int horizon = static_cast<int>(h * kHorizon);
  // Sky: overcast gradient; road: dark asphalt gradient.
  for (int y = 0; y < h; ++y) {
    const double t = static_cast<double>(y) / h;
    cv::Vec3b colour = y < horizon ? cv::Vec3b(static_cast<uchar>(200 - 60 * t), static_cast<uchar>(185 - 50 * t),
                                               static_cast<uchar>(170 - 40 * t))
                                   : cv::Vec3b(static_cast<uchar>(70 + 30 * t), static_cast<uchar>(70 + 30 * t),
                                               static_cast<uchar>(75 + 30 * t));
    scene.row(y).setTo(cv::Scalar(colour[0], colour[1], colour[2]));
  }
  // Buildings with lit and dark windows along the horizon.
  for (int b = 0; b < kBuildings; ++b) {
    const int bw = std::max(2, static_cast<int>(w * (0.08 + 0.1 * uniform01(rng))));
    const int bh = std::max(2, static_cast<int>(h * (0.15 + 0.35 * uniform01(rng))));
    const int x0 = static_cast<int>((w + bw) * uniform01(rng)) - bw;
    cv::Rect building(x0, horizon - bh, bw, bh);
    cv::rectangle(scene, building, randomColour(rng, 60, 150), cv::FILLED);
    const int step = std::max(4, bw / 5);
    for (int wy = building.y + step / 2; wy + step / 2 < horizon; wy += step)
      for (int wx = building.x + step / 3; wx + step / 2 < building.x + bw; wx += step)
        cv::rectangle(scene, cv::Rect(wx, wy, std::max(1, step / 2), std::max(1, step / 2)),
                      uniform01(rng) < 0.4 ? cv::Scalar(90, 200, 240) : cv::Scalar(50, 45, 40), cv::FILLED);
  }
  // Lane markings and cars.
  for (int x = 0; x < w; x += std::max(8, w / 12))
    cv::rectangle(scene, cv::Rect(x, horizon + (h - horizon) / 2, std::max(2, w / 30), std::max(1, h / 80)),
                  cv::Scalar(220, 220, 220), cv::FILLED);
  for (int c = 0; c < kCars; ++c) {
    const int cw = std::max(3, w / 7), ch = std::max(2, h / 12);
    const int cx = static_cast<int>((w - cw) * uniform01(rng));
    const int cy = horizon + static_cast<int>((h - horizon - ch) * uniform01(rng));
    cv::rectangle(scene, cv::Rect(cx, cy, cw, ch), randomColour(rng, 20, 230), cv::FILLED);
    cv::rectangle(scene, cv::Rect(cx + cw / 5, cy - ch / 2, cw * 3 / 5, ch / 2 + 1), cv::Scalar(60, 60, 60), cv::FILLED);
    cv::circle(scene, cv::Point(cx + cw / 5, cy + ch), std::max(1, ch / 3), cv::Scalar(20, 20, 20), cv::FILLED);
    cv::circle(scene, cv::Point(cx + 4 * cw / 5, cy + ch), std::max(1, ch / 3), cv::Scalar(20, 20, 20), cv::FILLED);
  }
  // A little texture so the scene is not piecewise flat (real photos never are).
  cv::Mat noise(h, w, CV_8UC3);
  cv::RNG cv_rng(seed);
  cv_rng.fill(noise, cv::RNG::NORMAL, 0, 4);
  cv::add(scene, noise, scene);
  cv::GaussianBlur(scene, scene, cv::Size(3, 3), 0.6);
  return scene;
}

}  // namespace derain
