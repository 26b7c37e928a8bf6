#include "nets/shuffle_add.h"

#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include "bf16_rounding.h"
#include "nets/residual_add.h"
#include "parallel_for.h"

namespace derain::detail {

namespace {
// One output row (image row `row` of image n) at a time: output pixel (y, x) channel c reads phase
// channel c * f^2 + (y % f) * f + (x % f) at (y / f, x / f), pixel_shuffle's order.
template <typename T>
void run(const T* phases, const T* image, T* out, int64_t batch, int64_t channels, int64_t height, int64_t width,
         int64_t factor) {
  const int64_t out_h = height * factor, out_w = width * factor, phase_channels = channels * factor * factor;
  parallelFor(0, batch * out_h, 8, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / out_h, y = row % out_h, a = y % factor;
      const T* phase_row = phases + ((n * height + y / factor) * width) * phase_channels;
      const T* in = image + row * out_w * channels;
      T* o = out + row * out_w * channels;
      // x = source pixel * factor + phase: no 64-bit division per output pixel.
      for (int64_t source = 0; source < width; ++source)
        for (int64_t b = 0; b < factor; ++b) {
          const int64_t x = source * factor + b;
          const T* p = phase_row + source * phase_channels + a * factor + b;
          for (int64_t c = 0; c < channels; ++c)
            o[x * channels + c] =
                storedAs<T>(static_cast<float>(p[c * factor * factor]) + static_cast<float>(in[x * channels + c]));
        }
    }
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
