// Perceptual loss L_p = ||phi(n_r) - phi(r)||^2 with frozen VGG16 features phi (relu2_2 and
// relu3_3, the paper's "conv2,3" layers). The gradient flows through phi(n_r) into G_N; phi(r) is a
// constant target.
#pragma once

#include <ATen/core/Tensor.h>

#include "losses/vgg16_features.h"

namespace derain::detail {

class PerceptualLoss {
 public:
  // `features` must already be on the training device; it is frozen here.
  explicit PerceptualLoss(VGG16Features features);

  // derained, rainy: N x 3 x H x W RGB in [-1, 1]. Sum over the two layers of the mean squared
  // feature difference.
  at::Tensor operator()(const at::Tensor& derained, const at::Tensor& rainy) const;

  // [-1, 1] RGB -> [0, 1] -> ImageNet mean/std normalisation, what torchvision's weights expect.
  static at::Tensor normaliseForVGG(const at::Tensor& image);

 private:
  mutable VGG16Features features_;  // forward() is non-const in LibTorch; the weights never change
};

}  // namespace derain::detail
