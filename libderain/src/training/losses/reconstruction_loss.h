// Reconstruction: the attention mask is the additive rain layer, so Att(r) + n_r should give r back.
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// L_r = mean ((Att(r) + n_r) - r)^2; the 1-channel mask is broadcast over the three colour channels.
at::Tensor reconstructionLoss(const at::Tensor& att_r, const at::Tensor& derained, const at::Tensor& rainy);

}  // namespace derain::detail
