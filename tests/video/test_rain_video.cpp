// Paired synthetic rainy video (derain/rain_video.hpp) and the temporal error (derain/temporal_metrics.hpp),
// on generated stills: deterministic for a seed, coherent rain, camera modes, hand-computed metric.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "derain/demo_scene.hpp"
#include "derain/error.hpp"
#include "derain/rain_video.hpp"
#include "derain/temporal_metrics.hpp"

namespace {

const cv::Size kFrame{128, 80};

derain::RainVideoParams smallClip(derain::CameraMotion motion, uint64_t seed) {
  derain::RainVideoParams p;
  p.size = kFrame;
  p.frames = 6;
  p.motion = motion;
  p.rain.density = 0.05;
  p.rain.length = 12;
  p.rain.intensity = 0.6;
  p.seed = seed;
  return p;
}

bool sameBytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0.0;
}

cv::Mat rainLayer(const derain::RainVideo& v, int t) {
  cv::Mat layer;
  cv::absdiff(v.rainy[t], v.clean[t], layer);
  cv::cvtColor(layer, layer, cv::COLOR_BGR2GRAY);
  return layer;
}

}  // namespace

TEST(RainVideo, SameSeedSameBytesOtherSeedOtherRain) {
  const cv::Mat still = derain::makeDemoScene({200, 120}, 3);
  for (auto motion : {derain::CameraMotion::Static, derain::CameraMotion::Pan, derain::CameraMotion::Shake}) {
    const auto a = derain::makeRainVideo(still, smallClip(motion, 7));
    const auto b = derain::makeRainVideo(still, smallClip(motion, 7));
    const auto c = derain::makeRainVideo(still, smallClip(motion, 8));
    ASSERT_EQ(a.rainy.size(), 6u);
    for (size_t t = 0; t < a.rainy.size(); ++t) {
      EXPECT_TRUE(sameBytes(a.rainy[t], b.rainy[t])) << derain::toString(motion) << " frame " << t;
      EXPECT_TRUE(sameBytes(a.clean[t], b.clean[t])) << derain::toString(motion) << " frame " << t;
      EXPECT_FALSE(sameBytes(a.rainy[t], c.rainy[t])) << derain::toString(motion) << " frame " << t;
    }
  }
}

TEST(RainVideo, FramesHaveTheRequestedSizeTypeAndCount) {
  const cv::Mat still = derain::makeDemoScene({90, 60}, 1);  // smaller than the frames: magnified
  auto p = smallClip(derain::CameraMotion::Zoom, 1);
  p.moving_object = true;
  const auto v = derain::makeRainVideo(still, p);
  ASSERT_EQ(v.rainy.size(), 6u);
  ASSERT_EQ(v.clean.size(), 6u);
  ASSERT_EQ(v.object_masks.size(), 6u);
  for (size_t t = 0; t < v.rainy.size(); ++t) {
    EXPECT_EQ(v.rainy[t].size(), kFrame);
    EXPECT_EQ(v.rainy[t].type(), CV_8UC3);
    EXPECT_EQ(v.clean[t].type(), CV_8UC3);
    EXPECT_EQ(v.object_masks[t].type(), CV_8UC1);
    EXPECT_GT(cv::countNonZero(v.object_masks[t]), 0) << "the sprite crosses the middle of the clip";
  }
  EXPECT_TRUE(derain::makeRainVideo(still, smallClip(derain::CameraMotion::Zoom, 1)).object_masks.empty());
}

TEST(RainVideo, StaticCameraKeepsTheSceneAndMovesTheRain) {
  const auto v = derain::makeRainVideo(derain::makeDemoScene({200, 120}, 2), smallClip(derain::CameraMotion::Static, 4));
  for (size_t t = 1; t < v.clean.size(); ++t) {
    EXPECT_TRUE(sameBytes(v.clean[t], v.clean[0])) << "static camera, frame " << t;
    // Coherent rain: the drops of frame t-1 have fallen, so the layers differ, but the amount of rain stays.
    const cv::Mat before = rainLayer(v, static_cast<int>(t) - 1), now = rainLayer(v, static_cast<int>(t));
    EXPECT_GT(cv::norm(before, now, cv::NORM_L1), 0.0);
    EXPECT_NEAR(cv::mean(now)[0], cv::mean(before)[0], 0.5 * cv::mean(before)[0] + 0.5);
  }
}

TEST(RainVideo, RainFallsBetweenFrames) {
  // Vertical rain with no jitter, falling 2 streak lengths a frame: the layer of frame 1 matches the layer of
  // frame 0 shifted down by about 2 x 12 pixels far better than unshifted.
  auto p = smallClip(derain::CameraMotion::Static, 5);
  p.rain.angle = 0;
  p.rain.angle_jitter = 0;
  p.fall_speed = 2.0;
  const auto v = derain::makeRainVideo(derain::makeDemoScene({200, 120}, 2), p);
  cv::Mat l0, l1;
  rainLayer(v, 0).convertTo(l0, CV_32F);
  rainLayer(v, 1).convertTo(l1, CV_32F);
  auto overlap = [&](int shift) {
    const cv::Rect from(0, 0, l0.cols, l0.rows - shift), to(0, shift, l0.cols, l0.rows - shift);
    return cv::sum(l0(from).mul(l1(to)))[0];
  };
  double best = 0;
  int best_shift = 0;
  for (int s = 0; s < 40; ++s)
    if (overlap(s) > best) best = overlap(s), best_shift = s;
  EXPECT_GT(best_shift, 14);  // drops are 0.6x-1.4x the mean length, so they fall 14-34 pixels
  EXPECT_LT(best_shift, 34);
  EXPECT_GT(best, 2.0 * overlap(0));
}

TEST(RainVideo, MovingCamerasMoveTheScene) {
  const cv::Mat still = derain::makeDemoScene({220, 140}, 6);
  for (auto motion : {derain::CameraMotion::Pan, derain::CameraMotion::Zoom, derain::CameraMotion::Forward,
                      derain::CameraMotion::Shake}) {
    const auto v = derain::makeRainVideo(still, smallClip(motion, 2));
    EXPECT_GT(cv::norm(v.clean.front(), v.clean.back(), cv::NORM_L1), 0.0) << derain::toString(motion);
  }
}

TEST(RainVideo, RejectsBadInput) {
  const cv::Mat still = derain::makeDemoScene({100, 60}, 1);
  auto p = smallClip(derain::CameraMotion::Pan, 1);
  p.frames = 0;
  EXPECT_THROW(derain::makeRainVideo(still, p), derain::Error);
  p = smallClip(derain::CameraMotion::Pan, 1);
  p.fall_speed = 0.0;
  EXPECT_THROW(derain::makeRainVideo(still, p), derain::Error);
  p = smallClip(derain::CameraMotion::Pan, 1);
  p.rain.density = 2.0;
  EXPECT_THROW(derain::makeRainVideo(still, p), derain::Error);
  EXPECT_THROW(derain::makeRainVideo(cv::Mat(), smallClip(derain::CameraMotion::Pan, 1)), derain::Error);
  EXPECT_THROW(derain::makeRainVideo(cv::Mat(60, 100, CV_8UC1, cv::Scalar(0)), smallClip(derain::CameraMotion::Pan, 1)),
               derain::Error);
  EXPECT_THROW(derain::parseCameraMotion("dolly"), derain::Error);
  for (auto m : {derain::CameraMotion::Static, derain::CameraMotion::Pan, derain::CameraMotion::Zoom,
                 derain::CameraMotion::Forward, derain::CameraMotion::Shake})
    EXPECT_EQ(derain::parseCameraMotion(derain::toString(m)), m);
}

TEST(TemporalError, HandComputedOnATinySequence) {
  // One pixel, one channel, three frames. out: 10, 20, 20; gt: 10, 15, 25.
  // t=1: (20-10) - (15-10) = 5; t=2: (20-20) - (25-15) = -10 -> mean |.| = 7.5 levels.
  auto px = [](int v) { return cv::Mat(1, 1, CV_8UC1, cv::Scalar(v)); };
  EXPECT_DOUBLE_EQ(derain::temporalError({px(10), px(20), px(20)}, {px(10), px(15), px(25)}), 7.5);
  // Float frames are on 0..1 and reported in 8-bit levels.
  auto fpx = [](double v) { return cv::Mat(1, 1, CV_32FC1, cv::Scalar(v / 255.0)); };
  EXPECT_NEAR(derain::temporalError({fpx(10), fpx(20), fpx(20)}, {fpx(10), fpx(15), fpx(25)}), 7.5, 1e-4);
  // A 2x1 colour pair: every channel counts. Frame-to-frame changes 0 vs (3,6,9) and (0,0,0): mean 3.
  cv::Mat a0(1, 2, CV_8UC3, cv::Scalar(50, 50, 50)), g0 = a0.clone();
  cv::Mat g1 = g0.clone();
  g1.at<cv::Vec3b>(0, 0) = cv::Vec3b(53, 56, 59);
  EXPECT_DOUBLE_EQ(derain::temporalError({a0, a0}, {g0, g1}), 3.0);
  // Masked: only the pixel that changed counts -> (3 + 6 + 9) / 3 = 6.
  cv::Mat mask(1, 2, CV_8UC1, cv::Scalar(0));
  mask.at<uint8_t>(0, 0) = 255;
  EXPECT_DOUBLE_EQ(derain::temporalError({a0, a0}, {g0, g1}, {mask, mask}), 6.0);
  // A perfect result scores 0 whatever the motion.
  EXPECT_DOUBLE_EQ(derain::temporalError({g0, g1}, {g0, g1}), 0.0);
}

TEST(TemporalError, RejectsBadSequences) {
  const cv::Mat a(4, 4, CV_8UC3, cv::Scalar(0)), b(5, 4, CV_8UC3, cv::Scalar(0));
  EXPECT_THROW(derain::temporalError({a}, {a}), derain::Error);
  EXPECT_THROW(derain::temporalError({a, a}, {a}), derain::Error);
  EXPECT_THROW(derain::temporalError({a, b}, {a, b}), derain::Error);
  EXPECT_THROW(derain::temporalError({a, a}, {a, a}, {cv::Mat(4, 4, CV_8UC1), cv::Mat(3, 3, CV_8UC1)}), derain::Error);
}
