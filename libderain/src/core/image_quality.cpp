// PSNR / SSIM on Y with the MATLAB conventions of the deraining literature (see derain/metrics.hpp).
#include "derain/metrics.hpp"

#include <cmath>
#include <limits>
#include <string>

#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"

namespace derain {

namespace {

// rgb2ycbcr's luma row (ITU-R BT.601, studio swing) and offset, for R,G,B in [0,1] -> Y in [0,255].
constexpr double kYr = 65.481, kYg = 128.553, kYb = 24.966, kYOffset = 16.0;

// ssim.m defaults.
constexpr double kSsimSigma = 1.5;       // Gaussian window sigma
constexpr double kSsimK1 = 0.01, kSsimK2 = 0.03;
constexpr double kSsimDynamicRange = 255.0;
constexpr int kSsimDownsampleBase = 256; // f = max(1, round(min(H, W) / 256))

std::string describe(const cv::Mat& m) {
  return std::to_string(m.cols) + "x" + std::to_string(m.rows) + " (" + cv::typeToString(m.type()) + ")";
}

void checkPlanes(const cv::Mat& a, const cv::Mat& b, const char* what) {
  if (a.empty() || b.empty()) throw Error(std::string(what) + ": empty image");
  if (a.type() != CV_64FC1 || b.type() != CV_64FC1)
    throw Error(std::string(what) + ": expects CV_64FC1 planes, got " + describe(a) + " and " + describe(b));
  if (a.size() != b.size())
    throw Error(std::string(what) + ": size mismatch " + describe(a) + " vs " + describe(b));
}

// ssim.m's pre-step: imfilter(img, ones(f)/f^2, 'symmetric', 'same') then img(1:f:end, 1:f:end).
// imfilter correlates with the kernel centre at floor((f+1)/2) (1-based), i.e. anchor (f+1)/2-1;
// 'symmetric' padding is OpenCV's BORDER_REFLECT (edge sample repeated).
cv::Mat downsampleLikeSsimM(const cv::Mat& img, int f) {
  cv::Mat box(f, f, CV_64F, cv::Scalar(1.0 / (f * f))), filtered;
  const int anchor = (f + 1) / 2 - 1;
  cv::filter2D(img, filtered, CV_64F, box, cv::Point(anchor, anchor), 0, cv::BORDER_REFLECT);
  cv::Mat out((img.rows + f - 1) / f, (img.cols + f - 1) / f, CV_64F);
  for (int y = 0; y < out.rows; ++y)
    for (int x = 0; x < out.cols; ++x) out.at<double>(y, x) = filtered.at<double>(y * f, x * f);
  return out;
}

// filter2(gaussian, img, 'valid'): full-support positions only.
cv::Mat gaussianValid(const cv::Mat& img, const cv::Mat& kernel1d) {
  cv::Mat full;
  cv::sepFilter2D(img, full, CV_64F, kernel1d, kernel1d, cv::Point(-1, -1), 0, cv::BORDER_CONSTANT);
  const int r = kSsimWindow / 2;
  return full(cv::Rect(r, r, img.cols - 2 * r, img.rows - 2 * r));
}

}  // namespace

void lumaY(const cv::Mat& image, cv::Mat& y, ColorOrder order) {
  if (image.empty()) throw Error("lumaY: empty image");
  const int depth = image.depth(), channels = image.channels();
  if (depth != CV_8U && depth != CV_32F && depth != CV_64F)
    throw Error("lumaY: unsupported image type " + describe(image) + " (8-bit 0..255 or float 0..1)");
  // Everything is brought to [0,1] doubles first, as im2double does.
  cv::Mat unit;
  image.convertTo(unit, CV_64F, depth == CV_8U ? 1.0 / 255.0 : 1.0);
  if (channels == 1) {
    y = unit * 255.0;
    return;
  }
  if (channels != 3 && channels != 4)
    throw Error("lumaY: unsupported channel count in " + describe(image) + " (1, 3 or 4)");
  const int ri = order == ColorOrder::BGR ? 2 : 0, bi = 2 - ri;
  cv::Mat out(image.size(), CV_64FC1);
  for (int row = 0; row < unit.rows; ++row) {
    const double* p = unit.ptr<double>(row);
    double* q = out.ptr<double>(row);
    for (int col = 0; col < unit.cols; ++col, p += channels)
      q[col] = kYOffset + kYr * p[ri] + kYg * p[1] + kYb * p[bi];
  }
  y = out;
}

double psnrOfPlanes(const cv::Mat& a, const cv::Mat& b) {
  checkPlanes(a, b, "psnr");
  double sum = 0.0;
  for (int row = 0; row < a.rows; ++row) {
    const double *p = a.ptr<double>(row), *q = b.ptr<double>(row);
    for (int col = 0; col < a.cols; ++col) sum += (p[col] - q[col]) * (p[col] - q[col]);
  }
  const double mse = sum / (static_cast<double>(a.rows) * a.cols);
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssimOfPlanes(const cv::Mat& a, const cv::Mat& b) {
  checkPlanes(a, b, "ssim");
  cv::Mat img1 = a, img2 = b;
  const int f = std::max(1, static_cast<int>(std::lround(std::min(a.rows, a.cols) /
                                                         static_cast<double>(kSsimDownsampleBase))));
  if (f > 1) {
    img1 = downsampleLikeSsimM(a, f);
    img2 = downsampleLikeSsimM(b, f);
  }
  if (img1.rows < kSsimWindow || img1.cols < kSsimWindow)
    throw Error("ssim: image of " + std::to_string(a.cols) + "x" + std::to_string(a.rows) +
                " is smaller than the 11x11 window");

  // fspecial('gaussian', 11, 1.5) is separable: the outer product of this normalised 1-D kernel.
  cv::Mat g(kSsimWindow, 1, CV_64F);
  double total = 0.0;
  for (int i = 0; i < kSsimWindow; ++i) {
    const double x = i - kSsimWindow / 2;
    g.at<double>(i) = std::exp(-x * x / (2.0 * kSsimSigma * kSsimSigma));
    total += g.at<double>(i);
  }
  g /= total;

  const double c1 = (kSsimK1 * kSsimDynamicRange) * (kSsimK1 * kSsimDynamicRange);
  const double c2 = (kSsimK2 * kSsimDynamicRange) * (kSsimK2 * kSsimDynamicRange);
  cv::Mat mu1 = gaussianValid(img1, g), mu2 = gaussianValid(img2, g);
  cv::Mat e11 = gaussianValid(img1.mul(img1), g), e22 = gaussianValid(img2.mul(img2), g),
          e12 = gaussianValid(img1.mul(img2), g);
  double sum = 0.0;
  for (int row = 0; row < mu1.rows; ++row) {
    const double *m1 = mu1.ptr<double>(row), *m2 = mu2.ptr<double>(row);
    const double *s11 = e11.ptr<double>(row), *s22 = e22.ptr<double>(row), *s12 = e12.ptr<double>(row);
    for (int col = 0; col < mu1.cols; ++col) {
      const double mu1mu2 = m1[col] * m2[col], mu1sq = m1[col] * m1[col], mu2sq = m2[col] * m2[col];
      const double sigma1sq = s11[col] - mu1sq, sigma2sq = s22[col] - mu2sq, sigma12 = s12[col] - mu1mu2;
      sum += ((2 * mu1mu2 + c1) * (2 * sigma12 + c2)) / ((mu1sq + mu2sq + c1) * (sigma1sq + sigma2sq + c2));
    }
  }
  return sum / (static_cast<double>(mu1.rows) * mu1.cols);
}

Quality qualityY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order) {
  if (result.size() != reference.size() || result.type() != reference.type())
    throw Error("image quality: the result is " + describe(result) + " but the reference is " +
                describe(reference));
  cv::Mat y1, y2;
  lumaY(result, y1, order);
  lumaY(reference, y2, order);
  Quality q;
  q.psnr = psnrOfPlanes(y1, y2);
  q.ssim = ssimOfPlanes(y1, y2);
  return q;
}

double psnrY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order) {
  if (result.size() != reference.size() || result.type() != reference.type())
    throw Error("psnrY: the result is " + describe(result) + " but the reference is " + describe(reference));
  cv::Mat y1, y2;
  lumaY(result, y1, order);
  lumaY(reference, y2, order);
  return psnrOfPlanes(y1, y2);
}

double ssimY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order) {
  if (result.size() != reference.size() || result.type() != reference.type())
    throw Error("ssimY: the result is " + describe(result) + " but the reference is " + describe(reference));
  cv::Mat y1, y2;
  lumaY(result, y1, order);
  lumaY(reference, y2, order);
  return ssimOfPlanes(y1, y2);
}

}  // namespace derain
