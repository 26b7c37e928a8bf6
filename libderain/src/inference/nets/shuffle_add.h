// The generator's last step with space-to-depth (lite): pixel_shuffle of its output, plus the input
// image (the residual), in one pass for inference on the CPU. LibTorch's pixel_shuffle of a
// channels_last tensor went a pixel at a time on one thread (~3 % of a lite 640x360 frame, fp32 or
// bf16; LibTorch profiler), and the addition was a second pass. Bit for bit the two operators: the shuffle
// only moves values, and each sum is computed in float and rounded once to the dtype, as the
// addition does (tests/core/test_fused_kernels.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// phases: N x (C * factor^2) x H x W; image: N x C x (factor H) x (factor W); same dtype. Returns
// pixel_shuffle(phases, factor) + image (channels_last on the fast path: CPU, inference, float or bf16,
// both channels_last); anything else takes those operators.
at::Tensor shuffleAdd(const at::Tensor& phases, const at::Tensor& image, int64_t factor);

}  // namespace derain::detail
