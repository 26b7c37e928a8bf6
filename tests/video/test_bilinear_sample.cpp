// The one-pass samplers of the motion code against OpenCV's remap, bit for bit: BilinearSampler itself,
// the chained alignment, the round-trip check of MotionEstimator::estimate.
#include <gtest/gtest.h>

#include <random>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "same_bytes.h"
#include "video/bilinear_sample.h"
#include "video/motion_field.h"

namespace {

using derain::detail::BilinearSampler;
using derain::detail::SampleBorder;

// Positions that reach every case of remap's sampling: inside, on the last row and column, off every
// edge by less and by more than a pixel, far away, and exactly halfway between two 1/32 steps (where
// the rounding direction matters).
cv::Mat testPositions(cv::Size sampled, cv::Size over, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> x(-2.5f, over.width + 1.5f), y(-2.5f, over.height + 1.5f);
  std::uniform_int_distribution<int> kind(0, 9), step_x(-64, 32 * over.width + 64), step_y(-64, 32 * over.height + 64);
  cv::Mat map(sampled, CV_32FC2);
  for (int r = 0; r < map.rows; ++r)
    for (int c = 0; c < map.cols; ++c) {
      cv::Vec2f& p = map.at<cv::Vec2f>(r, c);
      switch (kind(rng)) {
        case 0:  // a half step: (k + 0.5) / 32
          p = cv::Vec2f((step_x(rng) + 0.5f) / 32.0f, (step_y(rng) + 0.5f) / 32.0f);
          break;
        case 1:  // far off
          p = cv::Vec2f(x(rng) * 40.0f - 600.0f, y(rng) - 300.0f);
          break;
        case 2:  // the last column and row exactly
          p = cv::Vec2f(over.width - 1.0f, y(rng));
          break;
        default:
          p = cv::Vec2f(x(rng), y(rng));
      }
    }
  return map;
}

class SamplerAgainstRemap : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(SamplerAgainstRemap, EqualsRemapBitForBit) {
  const auto [channels, border] = GetParam();
  const cv::Size size(23, 11);
  cv::Mat src(size, CV_MAKETYPE(CV_32F, channels));
  cv::randu(src, cv::Scalar::all(-50.0), cv::Scalar::all(50.0));
  const float constant = 7.25f;
  const cv::Mat map = testPositions({61, 37}, size, 17u + channels + border);
  cv::Mat expected;
  cv::remap(src, expected, map, cv::noArray(), cv::INTER_LINEAR, border, cv::Scalar::all(constant));
  const BilinearSampler sampler(src, border == cv::BORDER_REPLICATE ? SampleBorder::kReplicate : SampleBorder::kConstant,
                                constant);
  cv::Mat got(map.size(), src.type());
  for (int r = 0; r < map.rows; ++r)
    for (int c = 0; c < map.cols; ++c) {
      const cv::Vec2f p = map.at<cv::Vec2f>(r, c);
      float* out = got.ptr<float>(r) + c * channels;
      if (channels == 1)
        sampler.sample<1>(p[0], p[1], out);
      else
        sampler.sample<2>(p[0], p[1], out);
    }
  EXPECT_TRUE(sameBytes(got, expected));
  // The positions did reach both outcomes: samples of the image and samples of the border constant.
  if (border == cv::BORDER_CONSTANT) {
    int constants = 0;
    for (int r = 0; r < got.rows; ++r)
      for (int c = 0; c < got.cols * channels; ++c) constants += got.ptr<float>(r)[c] == constant;
    EXPECT_GT(constants, 0);
    EXPECT_LT(constants, got.rows * got.cols * channels);
  }
}

INSTANTIATE_TEST_SUITE_P(ChannelsAndBorders, SamplerAgainstRemap,
                         ::testing::Combine(::testing::Values(1, 2),
                                            ::testing::Values(cv::BORDER_REPLICATE, cv::BORDER_CONSTANT)));

// What chain() computed before it sampled in one pass: a float map, two remaps, an add and a product.
derain::detail::Alignment chainWithRemap(const derain::detail::Alignment& a, const cv::Mat& step,
                                         const cv::Mat& step_ok) {
  cv::Mat map(a.offset.size(), CV_32FC2);
  for (int y = 0; y < map.rows; ++y)
    for (int x = 0; x < map.cols; ++x) {
      const cv::Vec2f o = a.offset.at<cv::Vec2f>(y, x);
      map.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(x) + o[0], static_cast<float>(y) + o[1]);
    }
  cv::Mat step_there, ok_there;
  cv::remap(step, step_there, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::remap(step_ok, ok_there, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  return {a.offset + step_there, a.confidence.mul(ok_there)};
}

TEST(AlignmentChain, SecondHopEqualsRemapBitForBit) {
  const cv::Size size(45, 26);
  derain::detail::Alignment a{cv::Mat(size, CV_32FC2), cv::Mat(size, CV_32FC1)};
  cv::randu(a.offset, cv::Scalar::all(-6.0), cv::Scalar::all(6.0));  // some chains leave the grid
  cv::randu(a.confidence, 0.0, 1.0);
  cv::Mat step(size, CV_32FC2), ok(size, CV_32FC1);
  cv::randu(step, cv::Scalar::all(-3.0), cv::Scalar::all(3.0));
  cv::randu(ok, 0.0, 1.0);
  const auto got = derain::detail::chain(a, step, ok);
  const auto expected = chainWithRemap(a, step, ok);
  EXPECT_TRUE(sameBytes(got.offset, expected.offset));
  EXPECT_TRUE(sameBytes(got.confidence, expected.confidence));
  EXPECT_GT(cv::countNonZero(expected.confidence == 0.0f), 0);  // some left the grid: confidence 0
}

TEST(MotionEstimate, RoundTripCheckEqualsRemapBitForBit) {
  // Two guides of a textured scene, the second shifted by a few pixels with a patch that changed: the
  // round trip closes on most pixels and fails on some.
  cv::Mat scene(90, 120, CV_8UC1);
  cv::randu(scene, 0, 256);
  cv::GaussianBlur(scene, scene, {0, 0}, 2.0);
  cv::Mat earlier = scene(cv::Rect(4, 2, 100, 80)).clone(), later = scene(cv::Rect(7, 3, 100, 80)).clone();
  later(cv::Rect(60, 20, 20, 20)).setTo(200);
  for (bool lookahead : {false, true}) {
    derain::detail::MotionEstimator motion(1, lookahead);
    const auto m = motion.estimate(earlier, later);
    auto check = [](const cv::Mat& flow, const cv::Mat& back) {
      cv::Mat map(flow.size(), CV_32FC2), back_there;
      for (int y = 0; y < flow.rows; ++y)
        for (int x = 0; x < flow.cols; ++x) {
          const cv::Vec2f f = flow.at<cv::Vec2f>(y, x);
          map.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(x) + f[0], static_cast<float>(y) + f[1]);
        }
      cv::remap(back, back_there, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(1e4));
      cv::Mat ok(flow.size(), CV_32FC1);
      for (int y = 0; y < flow.rows; ++y)
        for (int x = 0; x < flow.cols; ++x) {
          const cv::Vec2f f = flow.at<cv::Vec2f>(y, x), b = back_there.at<cv::Vec2f>(y, x), loop = f + b;
          const float err2 = loop.dot(loop), motion2 = f.dot(f) + b.dot(b);
          ok.at<float>(y, x) = err2 <= 0.05f * motion2 + 0.75f * 0.75f ? 1.0f : 0.0f;
        }
      return ok;
    };
    const cv::Mat expected = check(m.backward, m.forward);
    EXPECT_TRUE(sameBytes(m.backward_ok, expected)) << "look-ahead " << lookahead;
    const int closed = cv::countNonZero(expected);
    EXPECT_GT(closed, expected.total() / 2);
    EXPECT_LT(closed, static_cast<int>(expected.total()));
    if (lookahead) {
      EXPECT_TRUE(sameBytes(m.forward_ok, check(m.forward, m.backward)));
    }
  }
}

}  // namespace
