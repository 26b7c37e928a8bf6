// Generated test scenes: smooth gradients, a few shapes and mild texture, so metrics and rain see
// realistic structure without any dataset on disk.
#pragma once

#include <cstdint>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace testimg {

inline cv::Mat scene(int width, int height, uint64_t seed) {
  cv::RNG rng(seed);
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(40 + 120 * x / width),
                                          static_cast<uint8_t>(60 + 100 * y / height),
                                          static_cast<uint8_t>(90 + 60 * (x + y) / (width + height)));
  for (int i = 0; i < 4; ++i) {
    cv::Point c(rng.uniform(0, width), rng.uniform(0, height));
    cv::circle(img, c, rng.uniform(2, std::max(3, width / 4)),
               cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256)), cv::FILLED);
  }
  cv::Mat noise(img.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 12);
  img += noise;
  return img;
}

}  // namespace testimg
