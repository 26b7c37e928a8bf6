// The networks' residual additions: y + x, or relu(y + x), written into y when that is safe and fast
// (inference on the CPU, same dtype, size and dense layout: add_relu_kernel.h), else LibTorch's
// operators. y must be a temporary of the caller's (a fresh layer output): it may be overwritten.
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

at::Tensor residualAdd(at::Tensor y, const at::Tensor& x, bool relu);

}  // namespace derain::detail
