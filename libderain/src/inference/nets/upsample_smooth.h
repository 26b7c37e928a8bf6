// The end of the generator's upsampling step in one pass, for inference on the CPU: the phase
// convolution's four phases interleaved (a pixel shuffle), one-pixel top/left reflection pad, 2x2
// average, ReLU. LibTorch does it as four operators, and its reflection pad hands back an NCHW
// tensor, so the layers after it ran NCHW (oneDNN then re-orders every convolution's input); in the
// lite model at 640x360 the four took about a sixth of the fp32 frame and a quarter of the bf16 one
// (LibTorch profiler, one thread). Torch-free (plain pointers) so it can be built with OpenMP.
//
// Same arithmetic as LibTorch's operators, bit for bit (tests/core/test_fused_kernels.cpp):
// each output is (((0 + a) + b) + c) + d, divided by 4, in float (bf16 data is widened first and
// rounded once at the end, as the fp32 detour of the bf16 path did), then max(x, 0) as clamp_min.
#pragma once

#include <cstdint>

#include <c10/util/BFloat16.h>

namespace derain::detail {

// in: channels_last [batch, 4 * channels, height + 1, width + 1], the phase convolution's output
// (generator.h): output pixel (2y + a, 2x + b) of channel o before the smoothing is its channel
// (a * 2 + b) * channels + o at (y + a, x + b). out: channels_last [batch, channels, 2 * height, 2 * width].
// skip: null, or a tensor shaped like out added to it in the same pass (the generator's skip
// connection), bit for bit the separate addition. Runs on `threads` OpenMP threads (LibTorch's pool).
void upsampleSmoothRelu(const float* in, const float* skip, float* out, int64_t batch, int64_t channels,
                        int64_t height, int64_t width, int threads);
void upsampleSmoothRelu(const c10::BFloat16* in, const c10::BFloat16* skip, c10::BFloat16* out, int64_t batch,
                        int64_t channels, int64_t height, int64_t width, int threads);

}  // namespace derain::detail
