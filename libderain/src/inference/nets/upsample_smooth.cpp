// Built with -fopenmp, -ffp-contract=off and without -ffast-math (libderain/meson.build): the sums must
// keep their order.
#include "nets/upsample_smooth.h"
#include "bf16_rounding.h"
#include "simd_clones.h"

#include <algorithm>
#include <vector>

namespace derain::detail {

namespace {

constexpr int kScale = 2;       // pixel shuffle factor
constexpr float kWindow = 4.0f;  // 2x2 average

// Row `row` (0 .. 2 * height - 1) of the upsampled image as float, pixel-major:
// dst[x * channels + o] for x in 0 .. 2 * width - 1. Output pixel (2y + a, 2x + b) is the phase
// convolution's pixel (y + a, x + b) in channel block a * 2 + b (upsample_smooth.h): a run of
// `channels` contiguous values per output pixel.
template <typename T>
inline __attribute__((always_inline)) void shuffledRow(const T* image, int64_t channels, int64_t width, int64_t row,
                                                       float* dst) {
  const int64_t a = row % kScale, pixel_stride = channels * kScale * kScale;
  const T* src_row = image + (row / kScale + a) * (width + 1) * pixel_stride + a * kScale * channels;
  for (int64_t x = 0; x < width; ++x) {
    for (int64_t b = 0; b < kScale; ++b) {
      float* d = dst + (x * kScale + b) * channels;
      const T* s = src_row + (x + b) * pixel_stride + b * channels;
      for (int64_t o = 0; o < channels; ++o) d[o] = static_cast<float>(s[o]);
    }
  }
}

// One output row from the shuffled rows above and here: the 2x2 mean over the reflected pad, then
// ReLU, stored as T; plus the skip row where there is one (the sum of the stored value and the skip
// in float, stored as T: what a separate addition of the two tensors computes).
template <typename T>
inline __attribute__((always_inline)) void smoothedRow(const float* above, const float* here, const T* skip, T* dst,
                                                       int64_t out_w, int64_t channels) {
  for (int64_t x = 0; x < out_w; ++x) {
    const int64_t x_left = x == 0 ? 1 : x - 1;  // the same reflection for the left column
    const float* a0 = above + x_left * channels;
    const float* a1 = above + x * channels;
    const float* b0 = here + x_left * channels;
    const float* b1 = here + x * channels;
    T* d = dst + x * channels;
    auto smoothed = [&](int64_t o) {
      float sum = 0.0f;
      sum += a0[o];
      sum += a1[o];
      sum += b0[o];
      sum += b1[o];
      const float mean = sum / kWindow;
      return storedAs<T>(mean < 0.0f ? 0.0f : mean);
    };
    if (skip == nullptr) {
      for (int64_t o = 0; o < channels; ++o) d[o] = smoothed(o);
    } else {
      const T* k = skip + x * channels;
      for (int64_t o = 0; o < channels; ++o)
        d[o] = storedAs<T>(static_cast<float>(smoothed(o)) + static_cast<float>(k[o]));
    }
  }
}

// Cloned per instruction set (simd_clones.h).
#define DERAIN_UPSAMPLE_ROWS(T)                                                                                      \
  DERAIN_SIMD_CLONES void shuffledRowClone(const T* image, int64_t channels, int64_t width, int64_t row,             \
                                           float* dst) {                                                             \
    shuffledRow(image, channels, width, row, dst);                                                                   \
  }                                                                                                                  \
  DERAIN_SIMD_CLONES void smoothedRowClone(const float* above, const float* here, const T* skip, T* dst,            \
                                           int64_t out_w, int64_t channels) {                                        \
    smoothedRow(above, here, skip, dst, out_w, channels);                                                            \
  }
DERAIN_UPSAMPLE_ROWS(float)
DERAIN_UPSAMPLE_ROWS(c10::BFloat16)
#undef DERAIN_UPSAMPLE_ROWS

template <typename T>
void run(const T* in, const T* skip, T* out, int64_t batch, int64_t channels, int64_t height, int64_t width,
         int threads) {
  const int64_t out_h = height * kScale, out_w = width * kScale;
  const int64_t rows = batch * out_h;
  const int64_t in_image = (height + 1) * (width + 1) * channels * kScale * kScale;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> above(out_w * channels), here(out_w * channels);
    int64_t above_row = -1;  // global row whose shuffled pixels `above` holds
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / out_h, y = r % out_h;
      const T* image = in + n * in_image;
      // The pad reflects row 0 about itself: the row above row 0 is row 1.
      const int64_t y_above = y == 0 ? 1 : y - 1;
      const int64_t global_above = n * out_h + y_above;
      // Within this thread's rows the previous row's pixels are already this one's upper row.
      if (above_row != global_above) shuffledRowClone(image, channels, width, y_above, above.data());
      shuffledRowClone(image, channels, width, y, here.data());
      smoothedRowClone(above.data(), here.data(), skip ? skip + r * out_w * channels : nullptr,
                       out + r * out_w * channels, out_w, channels);
      std::swap(above, here);
      above_row = r;
    }
  }
}

}  // namespace

void upsampleSmoothRelu(const float* in, const float* skip, float* out, int64_t batch, int64_t channels,
                        int64_t height, int64_t width, int threads) {
  run(in, skip, out, batch, channels, height, width, threads);
}

void upsampleSmoothRelu(const c10::BFloat16* in, const c10::BFloat16* skip, c10::BFloat16* out, int64_t batch,
                        int64_t channels, int64_t height, int64_t width, int threads) {
  run(in, skip, out, batch, channels, height, width, threads);
}

}  // namespace derain::detail
