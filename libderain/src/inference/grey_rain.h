// EngineOptions::grey_rain: the derained image input - luma(input - derained), i.e. the removed layer
// made grey with its own luma (BT.601 weights), computed in one pass on the CPU.
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// input, derained: N x 3 x H x W in the same dtype; luma_weights: 1 x 3 x 1 x 1 in that dtype.
// Equal bit for bit to input - ((input - derained) * luma_weights).sum(1, true) in LibTorch's
// operators (each rounds to the dtype; the sum adds the channels in order in float), which run
// instead off the CPU or for other layouts.
at::Tensor greyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights);

}  // namespace derain::detail
