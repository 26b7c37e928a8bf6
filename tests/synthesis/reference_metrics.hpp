// Straightforward double-precision re-implementations of the literature's metrics, written from the
// MATLAB definitions with plain loops (no OpenCV filtering), to check libderain's metrics against.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/core.hpp>

namespace reference {

// Row-major plane of doubles.
struct Plane {
  int rows = 0, cols = 0;
  std::vector<double> v;
  double at(int y, int x) const { return v[static_cast<size_t>(y) * cols + x]; }
};

// rgb2ycbcr(im2double(bgr8))(:,:,1) * 255.
inline Plane lumaOfBgr8(const cv::Mat& bgr) {
  Plane p{bgr.rows, bgr.cols, {}};
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b px = bgr.at<cv::Vec3b>(y, x);
      const double r = px[2] / 255.0, g = px[1] / 255.0, b = px[0] / 255.0;
      p.v.push_back(255.0 * (16.0 / 255.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0));
    }
  return p;
}

// psnr(A/255, B/255) with peak 1.
inline double psnr(const Plane& a, const Plane& b) {
  double se = 0;
  for (size_t i = 0; i < a.v.size(); ++i) se += (a.v[i] / 255 - b.v[i] / 255) * (a.v[i] / 255 - b.v[i] / 255);
  const double mse = se / a.v.size();
  return mse == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(1.0 / mse);
}

// 'symmetric' padding index (MATLAB padarray): ... c b a | a b c ... c | c b a ...
inline int symmetric(int i, int n) {
  while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
  return i;
}

// ssim.m (Wang et al. 2004 reference code) with its default window, K and L = 255.
inline double ssim(const Plane& a0, const Plane& b0) {
  const int f = std::max(1, static_cast<int>(std::lround(std::min(a0.rows, a0.cols) / 256.0)));
  Plane a = a0, b = b0;
  if (f > 1) {
    // imfilter(img, ones(f)/f^2, 'symmetric', 'same'): correlation, centre at floor((f+1)/2) (1-based).
    const int centre = (f + 1) / 2 - 1;
    auto down = [&](const Plane& in) {
      Plane out{(in.rows + f - 1) / f, (in.cols + f - 1) / f, {}};
      for (int y = 0; y < in.rows; y += f)
        for (int x = 0; x < in.cols; x += f) {
          double s = 0;
          for (int i = 0; i < f; ++i)
            for (int j = 0; j < f; ++j)
              s += in.at(symmetric(y + i - centre, in.rows), symmetric(x + j - centre, in.cols));
          out.v.push_back(s / (f * f));
        }
      return out;
    };
    a = down(a0);
    b = down(b0);
  }
  // fspecial('gaussian', 11, 1.5)
  double w[11][11], total = 0;
  for (int i = 0; i < 11; ++i)
    for (int j = 0; j < 11; ++j) total += (w[i][j] = std::exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5)));
  for (auto& row : w)
    for (double& x : row) x /= total;
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  double sum = 0;
  int count = 0;
  for (int y = 0; y + 11 <= a.rows; ++y)
    for (int x = 0; x + 11 <= a.cols; ++x) {
      double m1 = 0, m2 = 0, s11 = 0, s22 = 0, s12 = 0;
      for (int i = 0; i < 11; ++i)
        for (int j = 0; j < 11; ++j) {
          const double p = a.at(y + i, x + j), q = b.at(y + i, x + j);
          m1 += w[i][j] * p;
          m2 += w[i][j] * q;
          s11 += w[i][j] * p * p;
          s22 += w[i][j] * q * q;
          s12 += w[i][j] * p * q;
        }
      const double v1 = s11 - m1 * m1, v2 = s22 - m2 * m2, cov = s12 - m1 * m2;
      sum += ((2 * m1 * m2 + c1) * (2 * cov + c2)) / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
      ++count;
    }
  return sum / count;
}

}  // namespace reference
