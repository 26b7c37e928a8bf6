// PSNR / SSIM on Y (derain/metrics.hpp) against hand-computed values and a plain-loop reference.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "derain/colour_change.hpp"
#include "derain/error.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "reference_metrics.hpp"
#include "test_images.hpp"

namespace {

// Y weight sum: a grey step of c on R, G and B moves Y by c * 219 / 255.
constexpr double kYPerGreyStep = (65.481 + 128.553 + 24.966) / 255.0;

TEST(Metrics, LumaOfKnownPixels) {
  // BGR pixels: black, white, pure red, pure green, pure blue, a mid grey.
  cv::Mat img(1, 6, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = {0, 0, 0};
  img.at<cv::Vec3b>(0, 1) = {255, 255, 255};
  img.at<cv::Vec3b>(0, 2) = {0, 0, 255};
  img.at<cv::Vec3b>(0, 3) = {0, 255, 0};
  img.at<cv::Vec3b>(0, 4) = {255, 0, 0};
  img.at<cv::Vec3b>(0, 5) = {128, 128, 128};
  cv::Mat y;
  derain::lumaY(img, y, derain::ColorOrder::BGR);
  ASSERT_EQ(y.type(), CV_64FC1);
  EXPECT_NEAR(y.at<double>(0, 0), 16.0, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 1), 235.0, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 2), 16.0 + 65.481, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 3), 16.0 + 128.553, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 4), 16.0 + 24.966, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 5), 16.0 + 128.0 * kYPerGreyStep, 1e-12);
  // The same pixels read as RGB swap the red and blue weights.
  derain::lumaY(img, y, derain::ColorOrder::RGB);
  EXPECT_NEAR(y.at<double>(0, 2), 16.0 + 24.966, 1e-12);
  EXPECT_NEAR(y.at<double>(0, 4), 16.0 + 65.481, 1e-12);
  // Float [0,1] input gives the same Y; 1-channel input is luma already.
  cv::Mat f;
  img.convertTo(f, CV_32FC3, 1.0 / 255.0);
  derain::lumaY(f, y, derain::ColorOrder::BGR);
  EXPECT_NEAR(y.at<double>(0, 3), 16.0 + 128.553, 1e-5);
  cv::Mat grey(1, 1, CV_8UC1, cv::Scalar(77));
  derain::lumaY(grey, y);
  EXPECT_DOUBLE_EQ(y.at<double>(0, 0), 77.0);
}

TEST(Metrics, IdenticalImagesAreInfinitePsnrAndUnitSsim) {
  const cv::Mat a = testimg::scene(64, 48, 1);
  const derain::Quality q = derain::qualityY(a, a.clone());
  EXPECT_TRUE(std::isinf(q.psnr) && q.psnr > 0);
  EXPECT_EQ(q.ssim, 1.0);
  EXPECT_EQ(derain::ssimY(a, a.clone()), 1.0);
}

TEST(Metrics, GreyOffsetGivesHandComputedPsnr) {
  cv::Mat a(40, 50, CV_8UC3), b;
  cv::randu(a, 30, 200);
  constexpr int kOffset = 5;
  cv::add(a, cv::Scalar::all(kOffset), b);  // no clipping: a <= 199 + 5
  // Every Y differs by 5 * 219/255, so MSE = that squared.
  const double dy = kOffset * kYPerGreyStep;
  EXPECT_NEAR(derain::psnrY(b, a), 20.0 * std::log10(255.0 / dy), 1e-9);
  EXPECT_NEAR(derain::psnrY(b, a), 35.4733, 1e-4);  // 20 log10(255 / 4.2941)
}

TEST(Metrics, NoiseOfKnownVarianceGivesExpectedPsnr) {
  // +-d on green with random signs: every pixel's Y moves by exactly d * 128.553/255, so the
  // noise variance (MSE) is known exactly whatever the signs.
  cv::Mat a(32, 40, CV_8UC3), b;
  cv::randu(a, 40, 200);
  b = a.clone();
  cv::RNG rng(5);
  constexpr int kStep = 7;
  for (int y = 0; y < a.rows; ++y)
    for (int x = 0; x < a.cols; ++x) b.at<cv::Vec3b>(y, x)[1] += rng.uniform(0, 2) ? kStep : -kStep;
  const double sigma = kStep * 128.553 / 255.0;
  EXPECT_NEAR(derain::psnrY(b, a), 10.0 * std::log10(255.0 * 255.0 / (sigma * sigma)), 1e-9);

  // Gaussian noise on a Y plane directly: PSNR from the noise's own sample variance.
  cv::Mat ya(50, 60, CV_64FC1), noise(50, 60, CV_64FC1);
  cv::randu(ya, 20.0, 230.0);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, 3.0);
  double ss = 0;
  for (int i = 0; i < noise.rows * noise.cols; ++i) ss += noise.at<double>(i) * noise.at<double>(i);
  const double mse = ss / (noise.rows * noise.cols);
  EXPECT_NEAR(derain::psnrOfPlanes(ya + noise, ya), 10.0 * std::log10(255.0 * 255.0 / mse), 1e-9);
}

TEST(Metrics, PsnrMatchesReference) {
  const cv::Mat clean = testimg::scene(57, 43, 2);
  derain::RainParams p;
  p.seed = 3;
  cv::Mat rainy;
  derain::addRain(clean, rainy, p);
  EXPECT_NEAR(derain::psnrY(rainy, clean),
              reference::psnr(reference::lumaOfBgr8(rainy), reference::lumaOfBgr8(clean)), 1e-9);
}

// SSIM against the plain-loop ssim.m, at sizes that exercise no downsampling (f = 1), f = 2 (even
// box, forward-looking) and f = 3.
void expectSsimMatchesReference(int width, int height, uint64_t seed) {
  const cv::Mat clean = testimg::scene(width, height, seed);
  derain::RainParams p;
  p.seed = seed;
  p.density = 0.08;
  p.haze = 0.1;
  cv::Mat rainy;
  derain::addRain(clean, rainy, p);
  const double expected = reference::ssim(reference::lumaOfBgr8(rainy), reference::lumaOfBgr8(clean));
  EXPECT_GT(expected, 0.1);
  EXPECT_LT(expected, 0.99);
  EXPECT_NEAR(derain::ssimY(rainy, clean), expected, 1e-10) << width << "x" << height;
}

TEST(Metrics, SsimMatchesPlainLoopReferenceWithoutDownsampling) { expectSsimMatchesReference(73, 41, 4); }
TEST(Metrics, SsimMatchesPlainLoopReferenceDownsampledBy2) { expectSsimMatchesReference(401, 390, 5); }
TEST(Metrics, SsimMatchesPlainLoopReferenceDownsampledBy3) { expectSsimMatchesReference(651, 640, 6); }

TEST(Metrics, SsimOfUnrelatedImagesIsLow) {
  const cv::Mat a = testimg::scene(64, 64, 7);
  cv::Mat b(64, 64, CV_8UC3);
  cv::randu(b, 0, 256);
  EXPECT_LT(derain::ssimY(a, b), 0.2);
}

TEST(Metrics, BadInputThrows) {
  const cv::Mat a = testimg::scene(32, 32, 8), b = testimg::scene(33, 32, 8);
  EXPECT_THROW(derain::psnrY(a, b), derain::Error);
  EXPECT_THROW(derain::qualityY(a, b), derain::Error);
  cv::Mat other_type;
  a.convertTo(other_type, CV_32FC3, 1 / 255.0);
  EXPECT_THROW(derain::ssimY(a, other_type), derain::Error);
  EXPECT_THROW(derain::ssimY(a(cv::Rect(0, 0, 10, 10)).clone(), a(cv::Rect(0, 0, 10, 10)).clone()), derain::Error);
  EXPECT_THROW(derain::psnrY(cv::Mat(), cv::Mat()), derain::Error);
  cv::Mat two_channels(8, 8, CV_8UC2, cv::Scalar::all(3));
  cv::Mat y;
  EXPECT_THROW(derain::lumaY(two_channels, y), derain::Error);
}

// --- no-reference change (derain/colour_change.hpp) ---------------------------------------------

TEST(ColourChange, HandComputedShiftsSpreadAndChangedShare) {
  // 4 pixels, BGR. Output: blue -2 everywhere; green +12 on pixel 1 (visible); red +8 on pixel 2 (exactly
  // the threshold: not visible) and -9 on pixel 3 (visible).
  cv::Mat in(1, 4, CV_8UC3, cv::Scalar(100, 100, 100)), out(1, 4, CV_8UC3, cv::Scalar(98, 100, 100));
  out.at<cv::Vec3b>(0, 1)[1] = 112;
  out.at<cv::Vec3b>(0, 2)[2] = 108;
  out.at<cv::Vec3b>(0, 3)[2] = 91;
  const derain::ColourChange c = derain::colourChange(in, out, derain::ColorOrder::BGR);
  EXPECT_DOUBLE_EQ(c.shift_b, -2.0);
  EXPECT_DOUBLE_EQ(c.shift_g, 12.0 / 4);
  EXPECT_DOUBLE_EQ(c.shift_r, (8.0 - 9.0) / 4);
  EXPECT_DOUBLE_EQ(c.spread(), 3.0 - (-2.0));
  EXPECT_DOUBLE_EQ(c.changed_share, 2.0 / 4);
  // RGB order reads channel 0 as red.
  const derain::ColourChange rgb = derain::colourChange(in, out, derain::ColorOrder::RGB);
  EXPECT_DOUBLE_EQ(rgb.shift_r, -2.0);
  EXPECT_DOUBLE_EQ(rgb.shift_b, (8.0 - 9.0) / 4);
  // An unchanged image: nothing moved.
  const derain::ColourChange none = derain::colourChange(in, in);
  EXPECT_EQ(none.spread(), 0.0);
  EXPECT_EQ(none.changed_share, 0.0);
}

TEST(ColourChange, BadInputThrows) {
  const cv::Mat a(4, 4, CV_8UC3, cv::Scalar::all(1)), b(4, 5, CV_8UC3, cv::Scalar::all(1));
  EXPECT_THROW(derain::colourChange(a, b), derain::Error);
  EXPECT_THROW(derain::colourChange(a, cv::Mat(4, 4, CV_32FC3)), derain::Error);
  EXPECT_THROW(derain::colourChange(cv::Mat(), cv::Mat()), derain::Error);
}

}  // namespace
