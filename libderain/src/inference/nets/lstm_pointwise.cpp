// Built with -fopenmp and -ffast-math (this file alone, libderain/meson.build): glibc's vector
// math library then supplies SIMD expf / tanhf for the `omp simd` loop.
#include "nets/lstm_pointwise.h"

#include <algorithm>
#include <cmath>

namespace derain::detail {

namespace {
// exp(-x) overflows float beyond ~88: clamped so fast-math never meets an infinity; sigmoid(+-30)
// is already 1 or 0 to float precision.
constexpr float kSigmoidClamp = 30.0f;

inline float sigmoid(float x) {
  x = std::min(std::max(x, -kSigmoidClamp), kSigmoidClamp);
  return 1.0f / (1.0f + std::exp(-x));
}
}  // namespace

namespace {
template <typename T>
void run(const T* gates, const T* c_prev, T* c_out, T* h_out, int64_t pixels, int channels, int threads) {
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < pixels; ++p) {
    const T* g = gates + p * c4;
    const T* cp = c_prev + p * channels;
    T* co = c_out + p * channels;
    T* ho = h_out + p * channels;
#pragma omp simd
    for (int k = 0; k < channels; ++k) {
      const float in = sigmoid(static_cast<float>(g[k]));
      const float forget = sigmoid(static_cast<float>(g[channels + k]));
      const float out = sigmoid(static_cast<float>(g[2 * channels + k]));
      const float cell = std::tanh(static_cast<float>(g[3 * channels + k]));
      const float c = forget * static_cast<float>(cp[k]) + in * cell;
      co[k] = static_cast<T>(c);
      ho[k] = static_cast<T>(out * std::tanh(c));
    }
  }
}
}  // namespace

void lstmPointwise(const float* gates, const float* c_prev, float* c_out, float* h_out, int64_t pixels,
                   int channels, int threads) {
  run(gates, c_prev, c_out, h_out, pixels, channels, threads);
}

void lstmPointwise(const c10::BFloat16* gates, const c10::BFloat16* c_prev, c10::BFloat16* c_out,
                   c10::BFloat16* h_out, int64_t pixels, int channels, int threads) {
  run(gates, c_prev, c_out, h_out, pixels, channels, threads);
}

}  // namespace derain::detail
