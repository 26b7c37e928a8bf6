// dst = dst + src, optionally followed by ReLU, in one pass: the residual additions of the networks.
// LibTorch runs them as two operators, and in bf16 as slow scalar-converting loops (in the paper
// preset at 481x321 the additions and ReLUs of the U-ARSE blocks took about a quarter of the bf16
// frame in a LibTorch profile). Torch-free (plain pointers) so it can be built with OpenMP. Same results as LibTorch's
// add then relu_, bit for bit (one rounding of the sum to the dtype; the ReLU keeps it).
#pragma once

#include <cstdint>

#include <c10/util/BFloat16.h>

namespace derain::detail {

void addRelu(float* dst, const float* src, int64_t count, bool relu, int threads);
void addRelu(c10::BFloat16* dst, const c10::BFloat16* src, int64_t count, bool relu, int threads);

}  // namespace derain::detail
