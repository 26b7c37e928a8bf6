// Test helper for the video tests: two images equal byte for byte (size, type and every pixel's bits).
#pragma once

#include <cstring>

#include <opencv2/core.hpp>

inline bool sameBytes(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  for (int y = 0; y < a.rows; ++y)
    if (std::memcmp(a.ptr(y), b.ptr(y), a.cols * a.elemSize()) != 0) return false;
  return true;
}
