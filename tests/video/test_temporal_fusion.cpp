// The temporal path's per-pixel steps against plain reference implementations, bit for bit: the
// background choice (vectorised rows; the reference is the per-pixel insertion sort it replaced), the
// first hop of an alignment chain, and the full-resolution warp (vectorised sampling map). Widths that
// are not a multiple of the vector length cover the tails.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include <opencv2/core.hpp>

#include "same_bytes.h"
#include "video/motion_field.h"
#include "video/temporal_fusion.h"

namespace {

using derain::ColorOrder;
using derain::detail::BackgroundSamples;
using derain::detail::FusionParams;

// The rule as written before vectorising: samples (current first, then the valid neighbours in order)
// sorted by luma with a stable insertion sort; the darkest sample that the next one confirms within
// agree_levels, else the darkest.
BackgroundSamples referenceBackground(const cv::Mat& current, const std::vector<cv::Mat>& warped,
                                      const std::vector<cv::Mat>& valid, const FusionParams& p) {
  const float w0 = 0.114f, w1 = 0.587f, w2 = 0.299f;  // BGR
  auto luma = [&](const uint8_t* c) { return w0 * c[0] + w1 * c[1] + w2 * c[2]; };
  BackgroundSamples out;
  out.excess.create(current.size(), CV_8UC1);
  out.source.create(current.size(), CV_8UC1);
  out.unsupported.create(current.size(), CV_8UC1);
  for (int y = 0; y < current.rows; ++y)
    for (int x = 0; x < current.cols; ++x) {
      std::vector<std::pair<float, int>> samples;
      const float own = luma(current.ptr<uint8_t>(y) + 3 * x);
      auto insert = [&](float v, int i) {
        auto at = std::upper_bound(samples.begin(), samples.end(), v,
                                   [](float value, const std::pair<float, int>& s) { return value < s.first; });
        samples.insert(at, {v, i});
      };
      insert(own, 0);
      for (size_t i = 0; i < warped.size(); ++i)
        if (valid[i].at<uint8_t>(y, x)) insert(luma(warped[i].ptr<uint8_t>(y) + 3 * x), static_cast<int>(i + 1));
      if (samples.size() == 1) {
        out.excess.at<uint8_t>(y, x) = 0;
        out.source.at<uint8_t>(y, x) = 0;
        out.unsupported.at<uint8_t>(y, x) = 255;
        continue;
      }
      size_t pick = 0;
      for (size_t k = 0; k + 1 < samples.size(); ++k)
        if (samples[k + 1].first - samples[k].first <= p.agree_levels) {
          pick = k;
          break;
        }
      out.excess.at<uint8_t>(y, x) = static_cast<uint8_t>(std::clamp(own - samples[pick].first, 0.0f, 255.0f));
      out.source.at<uint8_t>(y, x) = static_cast<uint8_t>(samples[pick].second);
      out.unsupported.at<uint8_t>(y, x) = 0;
    }
  return out;
}

class BackgroundChoice : public ::testing::TestWithParam<int> {};

TEST_P(BackgroundChoice, EqualsThePerPixelInsertionSortBitForBit) {
  const int neighbours = GetParam();
  std::mt19937 random(1234 + neighbours);
  const cv::Size size(37, 11);  // 37 = 2 x 16 + 5: vector bodies and a scalar tail in every row
  auto frame = [&] {
    // Few distinct levels, so equal lumas (ties the order must break as before) are common.
    cv::Mat f(size, CV_8UC3);
    std::uniform_int_distribution<int> level(0, 6);
    for (auto it = f.begin<cv::Vec3b>(); it != f.end<cv::Vec3b>(); ++it)
      *it = cv::Vec3b(static_cast<uint8_t>(40 * level(random)), static_cast<uint8_t>(40 * level(random)),
                      static_cast<uint8_t>(40 * level(random)));
    return f;
  };
  const cv::Mat current = frame();
  std::vector<cv::Mat> warped, valid;
  std::bernoulli_distribution usable(0.7);
  for (int i = 0; i < neighbours; ++i) {
    warped.push_back(frame());
    cv::Mat v(size, CV_8UC1);
    for (auto it = v.begin<uint8_t>(); it != v.end<uint8_t>(); ++it) *it = usable(random) ? 255 : 0;
    v.col(3).setTo(0);  // no neighbour usable there: the current frame alone
    valid.push_back(v);
  }
  FusionParams params;
  params.agree_levels = 6.0f;
  const BackgroundSamples fast = derain::detail::findBackground(current, warped, valid, ColorOrder::BGR, params);
  const BackgroundSamples reference = referenceBackground(current, warped, valid, params);
  EXPECT_TRUE(sameBytes(fast.excess, reference.excess));
  EXPECT_TRUE(sameBytes(fast.source, reference.source));
  EXPECT_TRUE(sameBytes(fast.unsupported, reference.unsupported));
  // The data exercise every branch: pixels with no usable neighbour, replaced and kept ones.
  EXPECT_GT(cv::countNonZero(reference.unsupported), 0);
  EXPECT_GT(cv::countNonZero(reference.source), 0);
  EXPECT_GT(cv::countNonZero(reference.excess), 0);
}

INSTANTIATE_TEST_SUITE_P(Neighbours, BackgroundChoice, ::testing::Values(1, 2, 4, 12));

TEST(AlignmentChain, FirstHopFromTheTargetIsTheStepItself) {
  const cv::Size size(21, 9);
  cv::Mat step(size, CV_32FC2), ok(size, CV_32FC1);
  cv::randu(step, cv::Scalar::all(-3.0), cv::Scalar::all(3.0));
  cv::randu(ok, 0.0, 1.0);
  const auto a = derain::detail::chain(derain::detail::identityAlignment(size), step, ok);
  EXPECT_TRUE(sameBytes(a.offset, step));
  EXPECT_TRUE(sameBytes(a.confidence, ok));
  // A second hop resamples: from an offset of (1, 0), the step is read one pixel to the right.
  derain::detail::Alignment shifted{cv::Mat(size, CV_32FC2, cv::Scalar(1.0f, 0.0f)), cv::Mat::ones(size, CV_32FC1)};
  const auto b = derain::detail::chain(shifted, step, ok);
  EXPECT_FLOAT_EQ(b.offset.at<cv::Vec2f>(4, 5)[0], 1.0f + step.at<cv::Vec2f>(4, 6)[0]);
  EXPECT_FLOAT_EQ(b.confidence.at<float>(4, 5), ok.at<float>(4, 6));
}

TEST(WarpToTarget, EqualsAPlainPerPixelMapAndRemap) {
  const cv::Size full(74, 22), guide(37, 11);  // 74 = 4 x 16 + 10: vector bodies and a scalar tail per row
  cv::Mat neighbour(full, CV_8UC3);
  cv::randu(neighbour, cv::Scalar::all(0), cv::Scalar::all(256));
  derain::detail::Alignment alignment{cv::Mat(guide, CV_32FC2), cv::Mat(guide, CV_32FC1)};
  cv::randu(alignment.offset, cv::Scalar::all(-12.0), cv::Scalar::all(12.0));  // many land outside the frame
  cv::randu(alignment.confidence, 0.9, 1.1);
  cv::min(alignment.confidence, 1.0, alignment.confidence);  // many exactly 1, some below the threshold
  cv::Mat warped, valid;
  derain::detail::warpToTarget(neighbour, alignment, warped, valid);

  cv::Mat offset, confidence, map(full, CV_32FC2), expected_valid(full, CV_8UC1), expected_warped;
  cv::resize(alignment.offset, offset, full, 0, 0, cv::INTER_LINEAR);
  cv::resize(alignment.confidence, confidence, full, 0, 0, cv::INTER_LINEAR);
  const float sx = 2.0f, sy = 2.0f;
  for (int y = 0; y < full.height; ++y)
    for (int x = 0; x < full.width; ++x) {
      const cv::Vec2f o = offset.at<cv::Vec2f>(y, x);
      const float px = x + o[0] * sx, py = y + o[1] * sy;
      map.at<cv::Vec2f>(y, x) = cv::Vec2f(px, py);
      const bool inside = px >= 0 && py >= 0 && px <= full.width - 1.0f && py <= full.height - 1.0f;
      expected_valid.at<uint8_t>(y, x) = confidence.at<float>(y, x) >= 0.99f && inside ? 255 : 0;
    }
  cv::remap(neighbour, expected_warped, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  EXPECT_TRUE(sameBytes(valid, expected_valid));
  EXPECT_TRUE(sameBytes(warped, expected_warped));
  // Both outcomes occur: some samples valid, some not (outside, or not confident).
  EXPECT_GT(cv::countNonZero(expected_valid), 0);
  EXPECT_LT(cv::countNonZero(expected_valid), full.area());
}

}  // namespace
