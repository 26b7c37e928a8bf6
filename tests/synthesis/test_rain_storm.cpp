// The storm rain model (derain/rain_storm.hpp): deterministic with its seed, only ever adds light,
// keeps size and type, lays a veil that grows toward the top, and refuses other image types.
#include <gtest/gtest.h>

#include "derain/error.hpp"
#include "derain/rain.hpp"
#include "derain/rain_storm.hpp"
#include "test_images.hpp"

namespace {

TEST(StormRain, SameSeedSameBytesOtherSeedOtherRain) {
  const cv::Mat scene = testimg::scene(160, 120, 3);
  cv::Mat a, b, c;
  derain::addStormRain(scene, a, 7);
  derain::addStormRain(scene, b, 7);
  derain::addStormRain(scene, c, 8);
  ASSERT_EQ(a.size(), scene.size());
  ASSERT_EQ(a.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
}

TEST(StormRain, OnlyAddsLightAndIsGrey) {
  const cv::Mat scene = testimg::scene(160, 120, 4);
  cv::Mat rainy;
  derain::addStormRain(scene, rainy, 11);
  int darker = 0, off_grey = 0;
  for (int y = 0; y < scene.rows; ++y)
    for (int x = 0; x < scene.cols; ++x) {
      const cv::Vec3b in = scene.at<cv::Vec3b>(y, x), out = rainy.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) darker += out[c] < in[c];
    }
  EXPECT_EQ(darker, 0);
  // On a mid-grey frame (no clipping, no veil floor) every channel rises alike: grey rain.
  const cv::Mat grey(120, 160, CV_8UC3, cv::Scalar(100, 100, 100));
  derain::addStormRain(grey, rainy, 11);
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x) {
      const cv::Vec3b p = rainy.at<cv::Vec3b>(y, x);
      off_grey += p[0] != p[1] || p[1] != p[2];
    }
  EXPECT_EQ(off_grey, 0);
  EXPECT_GT(cv::mean(rainy)[0], 100.0 + 0.02 * (0.85 * 255 - 100));  // at least the weakest veil
}

// The veil grows with distance (toward the top): on a black frame the top row, far from the
// splashes, is lifted by at least h_top's floor, 0.12 x 0.85 x 255 = 26 levels, and more than the
// bottom row's veil, at most 0.08 x 0.85 x 255 = 17.3 levels plus rain.
TEST(StormRain, VeilGrowsTowardTheTop) {
  const cv::Mat black(240, 320, CV_8UC3, cv::Scalar::all(0));
  cv::Mat rainy;
  derain::addStormRain(black, rainy, 3);
  cv::Mat grey;
  cv::extractChannel(rainy, grey, 0);
  double top_min = 0, bottom_min = 0;
  cv::minMaxLoc(grey.row(0), &top_min);
  cv::minMaxLoc(grey.row(grey.rows - 1), &bottom_min);
  EXPECT_GE(top_min, 25.0);
  EXPECT_LE(bottom_min, 18.0);
  EXPECT_GT(top_min, bottom_min);
}

TEST(StormRain, RefusesOtherImageTypes) {
  cv::Mat out;
  EXPECT_THROW(derain::addStormRain(cv::Mat(), out, 1), derain::Error);
  EXPECT_THROW(derain::addStormRain(cv::Mat(8, 8, CV_8UC1, cv::Scalar(0)), out, 1), derain::Error);
  EXPECT_THROW(derain::addStormRain(cv::Mat(8, 8, CV_32FC3, cv::Scalar::all(0)), out, 1), derain::Error);
}

}  // namespace
