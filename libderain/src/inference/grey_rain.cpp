#include "grey_rain.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "bf16_rounding.h"

namespace derain::detail {

namespace {
constexpr int kChannels = 3;
constexpr int64_t kPixelsPerTask = 4096;

template <typename T>
void run(const T* input, const T* derained, const float weights[kChannels], T* out, int64_t pixels) {
  at::parallel_for(0, pixels, kPixelsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* in = input + p * kChannels;
      const T* de = derained + p * kChannels;
      float luma = 0.0f;
      for (int c = 0; c < kChannels; ++c) {
        const float removed = roundedAs<T>(static_cast<float>(in[c]) - static_cast<float>(de[c]));
        luma += roundedAs<T>(removed * weights[c]);
      }
      luma = roundedAs<T>(luma);
      for (int c = 0; c < kChannels; ++c) out[p * kChannels + c] = storedAs<T>(static_cast<float>(in[c]) - luma);
    }
  });
}
}  // namespace

at::Tensor greyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = input.scalar_type();
  const bool fast = input.is_cpu() && derained.is_cpu() && input.dim() == 4 && input.size(1) == kChannels &&
                    input.sizes() == derained.sizes() && derained.scalar_type() == dtype &&
                    luma_weights.scalar_type() == dtype && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
                    input.is_contiguous(cl) && derained.is_contiguous(cl);
  if (!fast) return input - ((input - derained) * luma_weights).sum(1, /*keepdim=*/true);
  const auto w = luma_weights.to(torch::kCPU, torch::kFloat).contiguous();
  const float weights[kChannels] = {w.data_ptr<float>()[0], w.data_ptr<float>()[1], w.data_ptr<float>()[2]};
  auto out = torch::empty_like(input, cl);
  const int64_t pixels = input.size(0) * input.size(2) * input.size(3);
  if (dtype == torch::kFloat)
    run(input.data_ptr<float>(), derained.data_ptr<float>(), weights, out.data_ptr<float>(), pixels);
  else
    run(input.data_ptr<c10::BFloat16>(), derained.data_ptr<c10::BFloat16>(), weights, out.data_ptr<c10::BFloat16>(),
        pixels);
  return out;
}

}  // namespace derain::detail
