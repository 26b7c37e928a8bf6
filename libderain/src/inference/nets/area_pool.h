// The U-ARSE's input: the frame area-averaged down to 1/scale (adaptive average pooling), for inference
// on the CPU in one row-parallel pass. LibTorch 1.13's channels_last kernel vectorises across channels,
// so the 3-channel frame went a pixel at a time (~3 % of a lite bf16 frame at 640x360, 2 % of an fp32
// one; LibTorch profiler).
// Same windows as adaptive_avg_pool2d (start floor(i * in / out), end ceil((i + 1) * in / out)), the
// sum taken in float row by row, then divided by the window's height and by its width; bf16 data is
// widened and the result rounded once: bit for bit what F::adaptive_avg_pool2d gives
// (tests/core/test_fused_kernels.cpp; dividing once by the area differs in the last bit).
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// image: N x C x H x W; in inference on the CPU, channels_last float or bf16, returns N x C x height x
// width channels_last in its dtype. Anything else (training: differentiable) takes
// F::adaptive_avg_pool2d (channels_last when the input is).
at::Tensor areaPool(const at::Tensor& image, int64_t height, int64_t width);

}  // namespace derain::detail
