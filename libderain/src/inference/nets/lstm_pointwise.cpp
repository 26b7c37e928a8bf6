// Built with -fopenmp and -ffast-math (this file alone, libderain/meson.build): glibc's vector
// math library then supplies SIMD expf / tanhf for the `omp simd` loop.
#include "nets/lstm_pointwise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "bf16_rounding.h"
#include "nets/pixel_copy.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
// exp(-x) overflows float beyond ~88: clamped so fast-math never meets an infinity; sigmoid(+-30)
// is already 1 or 0 to float precision.
constexpr float kSigmoidClamp = 30.0f;

inline float sigmoid(float x) {
  x = std::min(std::max(x, -kSigmoidClamp), kSigmoidClamp);
  return 1.0f / (1.0f + std::exp(-x));
}

// Cells of `count` consecutive pixels in float: the loop the compiler vectorises with glibc's SIMD
// expf / tanhf. Cloned per instruction set (simd_clones.h): AVX-512 calls libmvec's 16-wide
// functions, the x86-64 baseline only its 4-wide SSE ones. (This file is built with -ffast-math,
// not -ffp-contract=off: the cell is compared with LibTorch's within a tolerance, not bit for bit.)
DERAIN_SIMD_CLONES
void cells(const float* gates, const float* c_prev, float* c_out, float* h_out, int64_t count, int channels) {
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
  for (int64_t p = 0; p < count; ++p) {
    const float* g = gates + p * c4;
    const float* cp = c_prev + p * channels;
    float* co = c_out + p * channels;
    float* ho = h_out + p * channels;
#pragma omp simd
    for (int k = 0; k < channels; ++k) {
      const float in = sigmoid(g[k]);
      const float forget = sigmoid(g[channels + k]);
      const float out = sigmoid(g[2 * channels + k]);
      const float cell_input = std::tanh(g[3 * channels + k]);
      const float c = forget * cp[k] + in * cell_input;
      co[k] = c;
      ho[k] = out * std::tanh(c);
    }
  }
}

// One batch of bf16 pixels: widened to float, cells(), narrowed back (round to nearest even, as
// c10::BFloat16's constructor, without its NaN branch so the loops vectorise: bf16_rounding.h).
// Cloned per instruction set like cells(), so the conversions are 16 wide too.
DERAIN_SIMD_CLONES
void cellsBf16(const c10::BFloat16* gates, const c10::BFloat16* c_prev, c10::BFloat16* c_out, c10::BFloat16* h_out,
               int64_t count, int channels, float* g, float* cp, float* co, float* ho) {
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
  for (int64_t k = 0; k < count * c4; ++k) g[k] = static_cast<float>(gates[k]);
  for (int64_t k = 0; k < count * channels; ++k) cp[k] = static_cast<float>(c_prev[k]);
  cells(g, cp, co, ho, count, channels);
  for (int64_t k = 0; k < count * channels; ++k) {
    c_out[k] = toBf16(co[k]);
    h_out[k] = toBf16(ho[k]);
  }
}

// Pixels [0, count) of h (dense) again into `copy` at `stride` elements per pixel.
template <typename T>
void copyStrided(const T* h, T* copy, int64_t stride, int64_t count, int channels) {
  copyPixels(h, channels * sizeof(T), copy, stride * sizeof(T), channels * sizeof(T), count);
}
}  // namespace

void lstmPointwise(const float* gates, const float* c_prev, float* c_out, float* h_out, int64_t pixels,
                   int channels, int threads, float* h_copy, int64_t h_copy_stride) {
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
#pragma omp parallel num_threads(threads)
  {
    const int64_t workers = omp_get_num_threads(), worker = omp_get_thread_num();
    const int64_t begin = pixels * worker / workers, end = pixels * (worker + 1) / workers;
    cells(gates + begin * c4, c_prev + begin * channels, c_out + begin * channels, h_out + begin * channels,
          end - begin, channels);
    if (h_copy) copyStrided(h_out + begin * channels, h_copy + begin * h_copy_stride, h_copy_stride, end - begin, channels);
  }
}

void lstmPointwise(const c10::BFloat16* gates, const c10::BFloat16* c_prev, c10::BFloat16* c_out,
                   c10::BFloat16* h_out, int64_t pixels, int channels, int threads, c10::BFloat16* h_copy,
                   int64_t h_copy_stride) {
  constexpr int64_t kPixelsPerBatch = 64;  // widened to float a batch at a time: cells() needs float
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> g(kPixelsPerBatch * c4), cp(kPixelsPerBatch * channels), co(cp.size()), ho(cp.size());
#pragma omp for schedule(static)
    for (int64_t first = 0; first < pixels; first += kPixelsPerBatch) {
      const int64_t count = std::min(kPixelsPerBatch, pixels - first);
      cellsBf16(gates + first * c4, c_prev + first * channels, c_out + first * channels, h_out + first * channels,
                count, channels, g.data(), cp.data(), co.data(), ho.data());
      if (h_copy)  // while this batch of h is in L1
        copyStrided(h_out + first * channels, h_copy + first * h_copy_stride, h_copy_stride, count, channels);
    }
  }
}

}  // namespace derain::detail
