// Built with -fopenmp and without -ffast-math (libderain/meson.build).
#include "nets/add_relu_kernel.h"

#include <algorithm>

#include <omp.h>

#include "bf16_rounding.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int64_t kMinPerThread = 1 << 15;  // below this a second thread costs more than it saves

// Cloned per instruction set (simd_clones.h): the loops vectorise to the widest one.
DERAIN_SIMD_CLONES
void addReluRange(float* dst, const float* src, int64_t count, bool relu) {
  if (relu) {
    for (int64_t i = 0; i < count; ++i) {
      const float v = dst[i] + src[i];
      dst[i] = v < 0.0f ? 0.0f : v;
    }
  } else {
    for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
  }
}

DERAIN_SIMD_CLONES
void addReluRange(c10::BFloat16* dst, const c10::BFloat16* src, int64_t count, bool relu) {
  for (int64_t i = 0; i < count; ++i) {
    float v = roundToBf16(static_cast<float>(dst[i]) + static_cast<float>(src[i]));
    if (relu && v < 0.0f) v = 0.0f;
    dst[i] = toBf16(v);
  }
}

template <typename T>
void run(T* dst, const T* src, int64_t count, bool relu, int threads) {
  const int workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, count / kMinPerThread)));
#pragma omp parallel num_threads(workers)
  {
    const int64_t n = omp_get_num_threads(), k = omp_get_thread_num();
    const int64_t begin = count * k / n, end = count * (k + 1) / n;
    addReluRange(dst + begin, src + begin, end - begin, relu);
  }
}
}  // namespace

void addRelu(float* dst, const float* src, int64_t count, bool relu, int threads) {
  run(dst, src, count, relu, threads);
}

void addRelu(c10::BFloat16* dst, const c10::BFloat16* src, int64_t count, bool relu, int threads) {
  run(dst, src, count, relu, threads);
}

}  // namespace derain::detail
