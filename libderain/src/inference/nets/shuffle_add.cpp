#include "nets/shuffle_add.h"

#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include "bf16_rounding.h"
#include "nets/residual_add.h"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int64_t kColourChannels = 3, kLiteFactor = 2;

// Output row `row` (image row y of image n): output pixel (y, x) channel c reads phase channel
// c * f^2 + (y % f) * f + (x % f) at (y / f, x / f), pixel_shuffle's order.
template <typename T>
inline __attribute__((always_inline)) void shuffleAddRow(const T* phases, const T* image, T* out, int64_t row,
                                                         int64_t channels, int64_t height, int64_t width,
                                                         int64_t factor) {
  const int64_t out_h = height * factor, out_w = width * factor, phase_channels = channels * factor * factor;
  const int64_t n = row / out_h, y = row % out_h, a = y % factor;
  const T* phase_row = phases + ((n * height + y / factor) * width) * phase_channels + a * factor;
  const T* in = image + row * out_w * channels;
  T* o = out + row * out_w * channels;
  auto add = [](T p, T i) { return storedAs<T>(static_cast<float>(p) + static_cast<float>(i)); };
  if (channels == kColourChannels && factor == kLiteFactor) {
    // The generator's case, spelled out: two output pixels per source pixel, no index arithmetic
    // per value, so the loop vectorises.
    constexpr int64_t kPhases = kColourChannels * kLiteFactor * kLiteFactor, kOut = kColourChannels * kLiteFactor;
    for (int64_t source = 0; source < width; ++source) {
      const T* p = phase_row + source * kPhases;
      const T* i = in + source * kOut;
      T* d = o + source * kOut;
      d[0] = add(p[0], i[0]);
      d[1] = add(p[4], i[1]);
      d[2] = add(p[8], i[2]);
      d[3] = add(p[1], i[3]);
      d[4] = add(p[5], i[4]);
      d[5] = add(p[9], i[5]);
    }
    return;
  }
  // x = source pixel * factor + phase: no 64-bit division per output pixel.
  for (int64_t source = 0; source < width; ++source)
    for (int64_t b = 0; b < factor; ++b) {
      const int64_t x = source * factor + b;
      const T* p = phase_row + source * phase_channels + b;
      for (int64_t c = 0; c < channels; ++c) o[x * channels + c] = add(p[c * factor * factor], in[x * channels + c]);
    }
}

#define DERAIN_SHUFFLE_ADD_ROWS(T)                                                                                   \
  DERAIN_SIMD_CLONES void shuffleAddRows(const T* phases, const T* image, T* out, int64_t begin, int64_t end,        \
                                         int64_t channels, int64_t height, int64_t width, int64_t factor) {          \
    for (int64_t row = begin; row < end; ++row)                                                                      \
      shuffleAddRow(phases, image, out, row, channels, height, width, factor);                                       \
  }
DERAIN_SHUFFLE_ADD_ROWS(float)
DERAIN_SHUFFLE_ADD_ROWS(c10::BFloat16)
#undef DERAIN_SHUFFLE_ADD_ROWS

template <typename T>
void run(const T* phases, const T* image, T* out, int64_t batch, int64_t channels, int64_t height, int64_t width,
         int64_t factor) {
  parallelFor(0, batch * height * factor, 8, [&](int64_t begin, int64_t end) {
    shuffleAddRows(phases, image, out, begin, end, channels, height, width, factor);
  });
}
}  // namespace

at::Tensor shuffleAdd(const at::Tensor& phases, const at::Tensor& image, int64_t factor) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = image.scalar_type();
  const bool fast = c10::InferenceMode::is_enabled() && phases.is_cpu() && image.is_cpu() && phases.dim() == 4 &&
                    image.dim() == 4 && phases.scalar_type() == dtype &&
                    (dtype == torch::kFloat || dtype == torch::kBFloat16) && phases.is_contiguous(cl) &&
                    image.is_contiguous(cl) && phases.size(0) == image.size(0) &&
                    phases.size(1) == image.size(1) * factor * factor && image.size(2) == phases.size(2) * factor &&
                    image.size(3) == phases.size(3) * factor;
  if (!fast) return residualAdd(torch::pixel_shuffle(phases, factor), image, /*relu=*/false);
  auto out = torch::empty_like(image, cl);
  const int64_t batch = image.size(0), channels = image.size(1), height = phases.size(2), width = phases.size(3);
  if (dtype == torch::kFloat)
    run(phases.data_ptr<float>(), image.data_ptr<float>(), out.data_ptr<float>(), batch, channels, height, width,
        factor);
  else
    run(phases.data_ptr<c10::BFloat16>(), image.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), batch,
        channels, height, width, factor);
  return out;
}

}  // namespace derain::detail
