// The U-ARSE's attention mask, computed at 1/scale of the frame, upsampled bilinearly to the frame
// (align_corners = false) in float, for inference on the CPU. LibTorch 1.13 takes its channels_last
// kernel for a 1-channel map (a 1-channel tensor is channels_last too), which splits the work by
// batch only and vectorises across channels, so one mask ran on one thread a pixel at a time: ~9 %
// of a lite bf16 frame at 640x360 (LibTorch profiler, 2 threads). This one splits rows over
// LibTorch's threads. Same weights and taps as that kernel (compute_source_index_and_lambda in float),
// applied separably: each source row a chunk of output rows reads is interpolated along the width
// once, then each output row is the blend of two such rows (at 4x the gathers of the column taps run
// for a quarter of the rows, and the blend vectorises: 0.243 -> 0.044-0.050 ms for a 160x90 bf16 mask
// to 640x360 on 2 threads, README's performance section with the runs' ceiling lines). LibTorch sums the four products of each
// pixel at once, so the result is within a few float ulps of it, and within one bf16 rounding step
// for a bf16 result (tests/core/test_fused_kernels.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// mask: N x 1 x h x w, float or bf16. Returns N x 1 x height x width in `dtype` (float or bf16),
// computed in float from the (widened) mask, as F::interpolate(mask.to(kFloat32), {height, width},
// bilinear, align_corners = false).to(dtype), which other inputs take (off the CPU, other shapes,
// and training, where it must be differentiable).
at::Tensor upsampleMask(const at::Tensor& mask, int64_t height, int64_t width, at::ScalarType dtype);

}  // namespace derain::detail
