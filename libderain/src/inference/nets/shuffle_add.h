// The generator's last step with space-to-depth (lite): its output's phases put in place (a pixel
// shuffle), plus the input image (the residual), in one pass for inference on the CPU. LibTorch's
// pixel_shuffle of a channels_last tensor went a pixel at a time on one thread (~3 % of a lite
// 640x360 frame, fp32 or bf16; LibTorch profiler), and the addition was a second pass. Bit for bit the
// two operators: the shuffle only moves values, and each sum is computed in float and rounded once to
// the dtype, as the addition does (tests/core/test_fused_kernels.cpp).
//
// The phases come in row-phase order, not pixel_shuffle's: channel (a * factor + b) * C + c is output
// pixel (factor y + a, factor x + b) of channel c. Output row factor y + a then takes factor * C
// consecutive values per source pixel, a run the pass copies without gathering (the generator orders
// its last convolution's outputs so: rowPhaseOrder).
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// The channel order above as indices into pixel_shuffle's order (channel c * factor^2 + a * factor + b):
// entry k is the pixel_shuffle channel that row-phase channel k holds. For index_select on weights.
at::Tensor rowPhaseOrder(int64_t channels, int64_t factor);

// phases: N x (C * factor^2) x H x W in row-phase order; image: N x C x (factor H) x (factor W); same
// dtype. Returns the shuffled phases + image (channels_last on the fast path: CPU, inference, float or
// bf16, both channels_last); anything else takes LibTorch's operators.
at::Tensor shuffleAdd(const at::Tensor& phases, const at::Tensor& image, int64_t factor);

}  // namespace derain::detail
