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

void lstmPointwise(const float* gates, const float* c_prev, float* c_out, float* h_out, int64_t pixels,
                   int channels, int threads) {
  const int64_t c4 = 4 * static_cast<int64_t>(channels);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < pixels; ++p) {
    const float* g = gates + p * c4;
    const float* cp = c_prev + p * channels;
    float* co = c_out + p * channels;
    float* ho = h_out + p * channels;
#pragma omp simd
    for (int k = 0; k < channels; ++k) {
      const float in = sigmoid(g[k]);
      const float forget = sigmoid(g[channels + k]);
      const float out = sigmoid(g[2 * channels + k]);
      const float cell = std::tanh(g[3 * channels + k]);
      const float c = forget * cp[k] + in * cell;
      co[k] = c;
      ho[k] = out * std::tanh(c);
    }
  }
}

}  // namespace derain::detail
