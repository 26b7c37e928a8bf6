#include "nets/area_pool.h"

#include <vector>

#include <torch/torch.h>

#include "bf16_rounding.h"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
int64_t windowStart(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
int64_t windowEnd(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

constexpr int64_t kImageChannels = 3;  // the U-ARSE pools the colour image

// Output row `row` of the pooled image. kChannels > 0: that many channels, summed in registers (the
// U-ARSE's input); 0: `channels`, summed in `sum`.
template <typename T, int64_t kChannels>
inline __attribute__((always_inline)) void poolRow(const T* in, T* out, int64_t row, int64_t channels, int64_t in_h,
                                                   int64_t in_w, int64_t out_h, int64_t out_w, const int64_t* x0s,
                                                   const int64_t* x1s, float* sum) {
  const int64_t c_count = kChannels > 0 ? kChannels : channels;
  const int64_t n = row / out_h, oy = row % out_h;
  const int64_t y0 = windowStart(oy, in_h, out_h), y1 = windowEnd(oy, in_h, out_h);
  float fixed[kChannels > 0 ? kChannels : 1];
  float* acc = kChannels > 0 ? fixed : sum;
  for (int64_t ox = 0; ox < out_w; ++ox) {
    const int64_t x0 = x0s[ox], x1 = x1s[ox];
    for (int64_t c = 0; c < c_count; ++c) acc[c] = 0.0f;
    for (int64_t y = y0; y < y1; ++y) {
      const T* p = in + ((n * in_h + y) * in_w + x0) * c_count;
      for (int64_t x = x0; x < x1; ++x, p += c_count)
        for (int64_t c = 0; c < c_count; ++c) acc[c] += static_cast<float>(p[c]);
    }
    const float kh = static_cast<float>(y1 - y0), kw = static_cast<float>(x1 - x0);
    T* o = out + ((n * out_h + oy) * out_w + ox) * c_count;
    for (int64_t c = 0; c < c_count; ++c) o[c] = storedAs<T>(acc[c] / kh / kw);
  }
}

// Cloned per instruction set (simd_clones.h).
#define DERAIN_POOL_ROWS(T)                                                                                          \
  DERAIN_SIMD_CLONES void poolRows(const T* in, T* out, int64_t begin, int64_t end, int64_t channels,                \
                                   int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, const int64_t* x0s,     \
                                   const int64_t* x1s, float* sum) {                                                 \
    for (int64_t row = begin; row < end; ++row)                                                                      \
      if (channels == kImageChannels)                                                                                \
        poolRow<T, kImageChannels>(in, out, row, channels, in_h, in_w, out_h, out_w, x0s, x1s, sum);                 \
      else                                                                                                           \
        poolRow<T, 0>(in, out, row, channels, in_h, in_w, out_h, out_w, x0s, x1s, sum);                              \
  }
DERAIN_POOL_ROWS(float)
DERAIN_POOL_ROWS(c10::BFloat16)
#undef DERAIN_POOL_ROWS

template <typename T>
void run(const T* in, T* out, int64_t batch, int64_t channels, int64_t in_h, int64_t in_w, int64_t out_h,
         int64_t out_w) {
  // Column windows once per call, not per output pixel (the row's are per row).
  std::vector<int64_t> x0s(out_w), x1s(out_w);
  for (int64_t ox = 0; ox < out_w; ++ox) {
    x0s[ox] = windowStart(ox, in_w, out_w);
    x1s[ox] = windowEnd(ox, in_w, out_w);
  }
  parallelFor(0, batch * out_h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> sum(channels);
    poolRows(in, out, begin, end, channels, in_h, in_w, out_h, out_w, x0s.data(), x1s.data(), sum.data());
  });
}
}  // namespace

at::Tensor areaPool(const at::Tensor& image, int64_t height, int64_t width) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = image.scalar_type();
  const bool fast = c10::InferenceMode::is_enabled() && image.is_cpu() && image.dim() == 4 && image.is_contiguous(cl) &&
                    (dtype == torch::kFloat || dtype == torch::kBFloat16);
  if (!fast) {
    namespace F = torch::nn::functional;
    auto pooled = F::adaptive_avg_pool2d(image, F::AdaptiveAvgPool2dFuncOptions({height, width}));
    // LibTorch 1.13 may hand back NCHW for a channels_last input; the layers after follow their input.
    return image.is_contiguous(cl) ? pooled.contiguous(cl) : pooled;
  }
  const int64_t batch = image.size(0), channels = image.size(1), in_h = image.size(2), in_w = image.size(3);
  auto out = torch::empty({batch, channels, height, width}, image.options().memory_format(cl));
  if (dtype == torch::kFloat)
    run(image.data_ptr<float>(), out.data_ptr<float>(), batch, channels, in_h, in_w, height, width);
  else
    run(image.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), batch, channels, in_h, in_w, height, width);
  return out;
}

}  // namespace derain::detail
