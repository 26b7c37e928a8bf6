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

// Output row `row` (image row y of image n): output pixel (y, x) channel c reads row-phase channel
// ((y % f) * f + x % f) * C + c at (y / f, x / f), so source pixel s gives the f * C values of output
// pixels f s .. f s + f - 1 in one run.
template <typename T>
inline __attribute__((always_inline)) void shuffleAddRow(const T* phases, const T* image, T* out, int64_t row,
                                                         int64_t channels, int64_t height, int64_t width,
                                                         int64_t factor) {
  const int64_t out_h = height * factor, run = factor * channels, phase_channels = run * factor;
  const int64_t n = row / out_h, y = row % out_h;
  const T* phase_row = phases + ((n * height + y / factor) * width) * phase_channels + (y % factor) * run;
  const T* in = image + row * width * run;
  T* o = out + row * width * run;
  auto add = [](T p, T i) { return storedAs<T>(static_cast<float>(p) + static_cast<float>(i)); };
  if (channels == kColourChannels && factor == kLiteFactor) {
    // The generator's case with constant sizes, so the loop vectorises.
    constexpr int64_t kRun = kColourChannels * kLiteFactor, kPhases = kRun * kLiteFactor;
    for (int64_t source = 0; source < width; ++source)
      for (int64_t k = 0; k < kRun; ++k)
        o[source * kRun + k] = add(phase_row[source * kPhases + k], in[source * kRun + k]);
    return;
  }
  for (int64_t source = 0; source < width; ++source)
    for (int64_t k = 0; k < run; ++k) o[source * run + k] = add(phase_row[source * phase_channels + k], in[source * run + k]);
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

at::Tensor rowPhaseOrder(int64_t channels, int64_t factor) {
  std::vector<int64_t> order;
  for (int64_t a = 0; a < factor; ++a)
    for (int64_t b = 0; b < factor; ++b)
      for (int64_t c = 0; c < channels; ++c) order.push_back(c * factor * factor + a * factor + b);
  return torch::tensor(order, torch::kLong);
}

at::Tensor shuffleAdd(const at::Tensor& phases, const at::Tensor& image, int64_t factor) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = image.scalar_type();
  const bool fast = c10::InferenceMode::is_enabled() && phases.is_cpu() && image.is_cpu() && phases.dim() == 4 &&
                    image.dim() == 4 && phases.scalar_type() == dtype &&
                    (dtype == torch::kFloat || dtype == torch::kBFloat16) && phases.is_contiguous(cl) &&
                    image.is_contiguous(cl) && phases.size(0) == image.size(0) &&
                    phases.size(1) == image.size(1) * factor * factor && image.size(2) == phases.size(2) * factor &&
                    image.size(3) == phases.size(3) * factor;
  if (!fast) {
    // Back to pixel_shuffle's order: pixel_shuffle channel rowPhaseOrder[k] is row-phase channel k.
    const auto order = rowPhaseOrder(image.size(1), factor).to(phases.device());
    const auto inverse = torch::empty_like(order).scatter_(0, order, torch::arange(order.size(0), order.options()));
    return residualAdd(torch::pixel_shuffle(phases.index_select(1, inverse), factor), image, /*relu=*/false);
  }
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
