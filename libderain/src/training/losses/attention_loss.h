// U-ARSE attention priors: a rainy image's mask should look like a random prior on (0, 1)
// (L_att_r), a clean image's mask should be zero everywhere (L_att_n).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace derain::detail {

// The prior P of L_att_r: i.i.d. Gaussian N(0.5, 0.25^2) truncated to (0, 1) (the paper's "Gaussian
// on (0, 1)"), drawn on the CPU from `generator` so that a run is reproducible from its saved state.
at::Tensor attentionPrior(c10::IntArrayRef shape, at::Generator& generator);

// L_att_r = mean (Att(r) - P)^2.
at::Tensor rainyAttentionLoss(const at::Tensor& att_r, const at::Tensor& prior);
// L_att_n = mean Att(n)^2.
at::Tensor cleanAttentionLoss(const at::Tensor& att_n);

}  // namespace derain::detail
