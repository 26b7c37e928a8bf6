// VideoDerainer (derain/video.hpp) on generated rainy clips: temporal mode removes clearly more rain than
// frame-by-frame deraining, does not ghost a moving object, resets on scene cuts and discontinuities,
// equals Engine::derain with no window, and keeps its look-ahead latency.
// Uses the shipped model when $DERAIN_SHIPPED_MODEL names it, else an untrained lite model (its G_N is
// nearly the identity, so the temporal gain is measured against leaving the rain in).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include <opencv2/imgproc.hpp>

#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "derain/rain_video.hpp"
#include "derain/video.hpp"

namespace {

const cv::Size kFrame{160, 96};
constexpr int kFrames = 8;
constexpr int kWarmUp = 3;  // frames before the window holds a few neighbours
constexpr double kMinTemporalGainDb = 3.0;
// Around a moving object the neighbours cannot help much (occlusions), so the result there is between the
// rainy input and frame-by-frame deraining; a ghost (the object smeared over the background) would fall
// below the rainy input itself, as the plain aligned median does.
constexpr double kMaxObjectLossVsFrameByFrameDb = 3.0;

derain::Engine& engine() {
  static std::unique_ptr<derain::Engine> instance = [] {
    derain::EngineOptions options;
    options.device = derain::Device::CPU;
    options.threads = 2;
    const char* shipped = std::getenv("DERAIN_SHIPPED_MODEL");
    if (shipped && std::filesystem::is_regular_file(shipped))
      return std::make_unique<derain::Engine>(shipped, options);
    return std::make_unique<derain::Engine>(derain::Engine::untrained(derain::ModelConfig::lite(), 1, options));
  }();
  return *instance;
}

derain::RainVideo rainyClip(derain::CameraMotion motion, bool object, uint64_t seed) {
  derain::RainVideoParams p;
  p.size = kFrame;
  p.frames = kFrames;
  p.motion = motion;
  p.rain.density = 0.05;
  p.rain.length = 14;
  p.rain.intensity = 0.6;
  p.moving_object = object;
  p.seed = seed;
  return derain::makeRainVideo(derain::makeDemoScene({240, 144}, seed), p);
}

std::vector<cv::Mat> frameByFrame(const std::vector<cv::Mat>& frames) {
  std::vector<cv::Mat> out;
  for (const cv::Mat& f : frames) {
    cv::Mat d;
    engine().derain(f, d);
    out.push_back(d);
  }
  return out;
}

std::vector<cv::Mat> temporal(const std::vector<cv::Mat>& frames, const derain::VideoOptions& options = {}) {
  derain::VideoDerainer video(engine(), options);
  std::vector<cv::Mat> out;
  for (const cv::Mat& f : frames) video.process(f, out);
  video.flush(out);
  return out;
}

// Mean PSNR on Y over the frames after the warm-up.
double meanPsnr(const std::vector<cv::Mat>& out, const std::vector<cv::Mat>& clean) {
  double sum = 0;
  for (int t = kWarmUp; t < kFrames; ++t) sum += derain::psnrY(out[t], clean[t]);
  return sum / (kFrames - kWarmUp);
}

// PSNR on Y over where the object is and was during the last 3 frames (where a ghost would show).
double objectPsnr(const std::vector<cv::Mat>& out, const derain::RainVideo& v) {
  double se = 0, n = 0;
  for (int t = kWarmUp; t < kFrames; ++t) {
    cv::Mat region = v.object_masks[t].clone();
    for (int k = 1; k <= 3; ++k) region |= v.object_masks[t - k];
    cv::Mat a, b;
    derain::lumaY(out[t], a);
    derain::lumaY(v.clean[t], b);
    cv::Mat d = a - b;
    cv::Mat squared = d.mul(d);
    se += cv::sum(squared.setTo(0.0, region == 0))[0];
    n += cv::countNonZero(region);
  }
  return 10.0 * std::log10(255.0 * 255.0 * n / std::max(se, 1e-9));
}

bool sameBytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0.0;
}

}  // namespace

TEST(VideoDerainer, RemovesClearlyMoreRainThanFrameByFrameOnAStaticScene) {
  const auto v = rainyClip(derain::CameraMotion::Static, false, 11);
  const double rainy = meanPsnr(v.rainy, v.clean), framewise = meanPsnr(frameByFrame(v.rainy), v.clean);
  const double fused = meanPsnr(temporal(v.rainy), v.clean);
  std::printf("static scene: rainy %.2f dB, frame by frame %.2f dB, temporal %.2f dB\n", rainy, framewise, fused);
  EXPECT_GT(fused, framewise + kMinTemporalGainDb);
}

TEST(VideoDerainer, HelpsAPanningCameraToo) {
  const auto v = rainyClip(derain::CameraMotion::Pan, false, 12);
  const double framewise = meanPsnr(frameByFrame(v.rainy), v.clean), fused = meanPsnr(temporal(v.rainy), v.clean);
  std::printf("panning camera: frame by frame %.2f dB, temporal %.2f dB\n", framewise, fused);
  EXPECT_GT(fused, framewise + 1.0);
}

TEST(VideoDerainer, DoesNotGhostAMovingObject) {
  const auto v = rainyClip(derain::CameraMotion::Static, true, 13);
  const double rainy = objectPsnr(v.rainy, v), framewise = objectPsnr(frameByFrame(v.rainy), v);
  const double fused = objectPsnr(temporal(v.rainy), v);
  std::printf("object region: rainy %.2f dB, frame by frame %.2f dB, temporal %.2f dB\n", rainy, framewise, fused);
  EXPECT_GT(fused, rainy);
  EXPECT_GT(fused, framewise - kMaxObjectLossVsFrameByFrameDb);
}

TEST(VideoDerainer, WindowZeroIsExactlyEngineDerain) {
  const auto v = rainyClip(derain::CameraMotion::Pan, true, 14);
  derain::VideoOptions options;
  options.temporal_window = 0;
  const auto out = temporal(v.rainy, options), expected = frameByFrame(v.rainy);
  ASSERT_EQ(out.size(), expected.size());
  for (size_t t = 0; t < out.size(); ++t) EXPECT_TRUE(sameBytes(out[t], expected[t])) << "frame " << t;
}

TEST(VideoDerainer, ASceneCutResetsToFrameByFrame) {
  const auto a = rainyClip(derain::CameraMotion::Static, false, 15);
  const auto b = rainyClip(derain::CameraMotion::Pan, false, 16);  // another street
  derain::VideoDerainer video(engine());
  std::vector<cv::Mat> out;
  for (int t = 0; t < 5; ++t) video.process(a.rainy[t], out);
  EXPECT_EQ(video.stats().scene_cuts, 0);
  video.process(b.rainy[0], out);
  EXPECT_TRUE(video.stats().last_was_scene_cut) << "explained " << video.stats().last_explained;
  EXPECT_EQ(video.stats().scene_cuts, 1);
  ASSERT_EQ(out.size(), 6u);
  cv::Mat expected;
  engine().derain(b.rainy[0], expected);
  EXPECT_TRUE(sameBytes(out.back(), expected)) << "the first frame of a scene has no usable neighbour";
  // The next frame of the new scene uses the one before it again.
  video.process(b.rainy[1], out);
  EXPECT_FALSE(video.stats().last_was_scene_cut);
  EXPECT_GT(video.stats().last_replaced, 0.0);
}

TEST(VideoDerainer, ResetForgetsTheHistory) {
  const auto v = rainyClip(derain::CameraMotion::Static, false, 17);
  derain::VideoDerainer video(engine());
  std::vector<cv::Mat> out;
  for (int t = 0; t < 4; ++t) video.process(v.rainy[t], out);
  video.reset();
  video.process(v.rainy[4], out);
  cv::Mat expected;
  engine().derain(v.rainy[4], expected);
  EXPECT_TRUE(sameBytes(out.back(), expected));
  EXPECT_EQ(video.stats().resets, 1);
}

TEST(VideoDerainer, LookAheadDelaysByKFramesAndFlushEmitsTheRest) {
  const auto v = rainyClip(derain::CameraMotion::Static, false, 18);
  derain::VideoOptions options;
  options.lookahead = 2;
  derain::VideoDerainer video(engine(), options);
  EXPECT_EQ(video.latency(), 2);
  std::vector<cv::Mat> out;
  for (int t = 0; t < kFrames; ++t) {
    video.process(v.rainy[t], out);
    EXPECT_EQ(static_cast<int>(out.size()), std::max(0, t + 1 - 2)) << "after frame " << t;
  }
  video.flush(out);
  ASSERT_EQ(static_cast<int>(out.size()), kFrames);
  EXPECT_EQ(video.stats().frames_out, kFrames);
  // Look-ahead helps the first frames, which have no past.
  const auto causal = temporal(v.rainy);
  EXPECT_GT(derain::psnrY(out[0], v.clean[0]), derain::psnrY(causal[0], v.clean[0]) + 1.0);
}

TEST(VideoDerainer, ANewFrameSizeStartsAfresh) {
  const auto a = rainyClip(derain::CameraMotion::Static, false, 19);
  derain::VideoOptions options;
  options.lookahead = 1;
  derain::VideoDerainer video(engine(), options);
  std::vector<cv::Mat> out;
  for (int t = 0; t < 3; ++t) video.process(a.rainy[t], out);
  EXPECT_EQ(out.size(), 2u);
  cv::Mat smaller;
  cv::resize(a.rainy[3], smaller, {96, 64});
  video.process(smaller, out);  // the pending frame is finished first, with the look-ahead it had
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.back().size(), kFrame);
  video.flush(out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out.back().size(), cv::Size(96, 64));
  EXPECT_EQ(video.stats().resets, 1);
}

TEST(VideoDerainer, RejectsBadOptionsAndFrames) {
  auto bad = [](auto change) {
    derain::VideoOptions o;
    change(o);
    return o;
  };
  EXPECT_THROW(derain::VideoDerainer(engine(), bad([](auto& o) { o.temporal_window = -1; })), derain::Error);
  EXPECT_THROW(derain::VideoDerainer(engine(), bad([](auto& o) { o.temporal_window = derain::kMaxTemporalWindow + 1; })),
               derain::Error);
  EXPECT_THROW(derain::VideoDerainer(engine(), bad([](auto& o) { o.lookahead = derain::kMaxLookahead + 1; })), derain::Error);
  EXPECT_THROW(derain::VideoDerainer(engine(), bad([](auto& o) { o.flow_downscale = 0; })), derain::Error);
  EXPECT_THROW(derain::VideoDerainer(engine(), bad([](auto& o) { o.scene_cut_threshold = 1.5; })), derain::Error);
  derain::VideoDerainer video(engine());
  std::vector<cv::Mat> out;
  EXPECT_THROW(video.process(cv::Mat(), out), derain::Error);
  EXPECT_THROW(video.process(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0)), out), derain::Error);
  EXPECT_THROW(video.process(cv::Mat(8, 8, CV_8UC3, cv::Scalar(0)), out), derain::Error);
  EXPECT_TRUE(out.empty());
}
