// Two-branch cycle consistency: rainy -> clean -> rainy and clean -> rainy -> clean.
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// L_cc = mean |r - r~| + mean |n - n~|, with r~ = G_R(Att(n_r), n_r) and n~ = G_N(Att(r_n), r_n).
at::Tensor cycleLoss(const at::Tensor& rainy, const at::Tensor& rainy_cycled, const at::Tensor& clean,
                     const at::Tensor& clean_cycled);

}  // namespace derain::detail
