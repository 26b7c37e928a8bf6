// Conversions between OpenCV images and the networks' tensors (RGB, [-1, 1], N x 3 x H x W), and
// padding to the generator's size multiple.
#pragma once

#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include "derain/types.hpp"

namespace derain::detail {

// CV_8UC3 (0..255) or CV_32FC3 (0..1) -> 1 x 3 x H x W float on CPU in [-1, 1], RGB, channels_last.
// Throws derain::Error for an empty image or another type.
at::Tensor imageToTensor(const cv::Mat& image, ColorOrder order);

// The same values, replicate-padded at the bottom/right to multiples of `multiple` and in `dtype`
// (fp32 or bf16, as .to() rounds), made in one pass over the image.
at::Tensor networkTensor(const cv::Mat& image, ColorOrder order, int multiple, at::ScalarType dtype);

// 1 x C x H x W float or bf16 (C = 3: [-1, 1] RGB; C = 1: raw mask) -> cv::Mat of `type`
// (CV_8UC3 rounded and clamped, CV_32FC3 in [0, 1], or CV_32FC1 for one channel, unscaled).
cv::Mat tensorToImage(const at::Tensor& tensor, int type, ColorOrder order);

}  // namespace derain::detail
