#include "grey_rain.h"

#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "bf16_rounding.h"

namespace derain::detail {

namespace {
constexpr int kChannels = 3;
constexpr int kBoundRadius = kRainBoundWindow / 2;
constexpr int64_t kPixelsPerTask = 4096;

// sum_c rounded(value_c * weight_c), added in float in channel order and rounded: LibTorch's
// (x * w).sum(1) for one pixel.
template <typename T, typename Value>
float weightedLuma(Value&& value, const float weights[kChannels]) {
  float luma = 0.0f;
  for (int c = 0; c < kChannels; ++c) luma += roundedAs<T>(value(c) * weights[c]);
  return roundedAs<T>(luma);
}

// One pixel: input - removed, removed = the luma of input - derained, clamped to [0, bound] when
// `bounded`.
template <typename T>
void removeGrey(const T* in, const T* de, const float weights[kChannels], bool bounded, float bound, T* out) {
  float removed = weightedLuma<T>(
      [&](int c) { return roundedAs<T>(static_cast<float>(in[c]) - static_cast<float>(de[c])); }, weights);
  if (bounded) removed = std::max(std::min(removed, bound), 0.0f);
  for (int c = 0; c < kChannels; ++c) out[c] = storedAs<T>(static_cast<float>(in[c]) - removed);
}

template <typename T>
void run(const T* input, const T* derained, const float weights[kChannels], T* out, int64_t pixels) {
  at::parallel_for(0, pixels, kPixelsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t at = p * kChannels;
      removeGrey<T>(input + at, derained + at, weights, /*bounded=*/false, 0.0f, out + at);
    }
  });
}

// Row by row: the input's luma, its minimum over the window, then each pixel's bounded removal.
template <typename T>
void runBounded(const T* input, const T* derained, const float weights[kChannels], T* out, int64_t rows,
                int64_t width) {
  at::parallel_for(0, rows, std::max<int64_t>(1, kPixelsPerTask / width), [&](int64_t begin, int64_t end) {
    std::vector<float> luma(width);
    for (int64_t r = begin; r < end; ++r) {
      const T* in = input + r * width * kChannels;
      for (int64_t x = 0; x < width; ++x)
        luma[x] = weightedLuma<T>([&](int c) { return static_cast<float>(in[x * kChannels + c]); }, weights);
      for (int64_t x = 0; x < width; ++x) {
        const int64_t first = std::max<int64_t>(0, x - kBoundRadius);
        const int64_t last = std::min<int64_t>(width - 1, x + kBoundRadius);
        const float background = *std::min_element(luma.begin() + first, luma.begin() + last + 1);
        const int64_t at = (r * width + x) * kChannels;
        removeGrey<T>(input + at, derained + at, weights, /*bounded=*/true, roundedAs<T>(luma[x] - background), out + at);
      }
    }
  });
}

// The same in LibTorch's operators (any device and layout).
at::Tensor operatorsGreyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights,
                             bool bounded) {
  auto removed = ((input - derained) * luma_weights).sum(1, /*keepdim=*/true);
  if (bounded) {
    const auto luma = (input * luma_weights).sum(1, /*keepdim=*/true);
    const auto background =
        -at::max_pool2d(-luma, {1, kRainBoundWindow}, /*stride=*/{1, 1}, /*padding=*/{0, kBoundRadius});
    removed = at::minimum(removed, luma - background).clamp_min(0);
  }
  return input - removed;
}
}  // namespace

at::Tensor greyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights,
                    bool bounded) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = input.scalar_type();
  const bool fast = input.is_cpu() && derained.is_cpu() && input.dim() == 4 && input.size(1) == kChannels &&
                    input.sizes() == derained.sizes() && derained.scalar_type() == dtype &&
                    luma_weights.scalar_type() == dtype && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
                    input.is_contiguous(cl) && derained.is_contiguous(cl);
  if (!fast) return operatorsGreyRain(input, derained, luma_weights, bounded);
  const auto w = luma_weights.to(torch::kCPU, torch::kFloat).contiguous();
  const float weights[kChannels] = {w.data_ptr<float>()[0], w.data_ptr<float>()[1], w.data_ptr<float>()[2]};
  auto out = torch::empty_like(input, cl);
  const int64_t rows = input.size(0) * input.size(2), width = input.size(3);
  auto dispatch = [&](auto* in, auto* de, auto* o) {
    using T = std::remove_pointer_t<decltype(in)>;
    if (bounded)
      runBounded<T>(in, de, weights, o, rows, width);
    else
      run<T>(in, de, weights, o, rows * width);
  };
  if (dtype == torch::kFloat)
    dispatch(input.data_ptr<float>(), derained.data_ptr<float>(), out.data_ptr<float>());
  else
    dispatch(input.data_ptr<c10::BFloat16>(), derained.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>());
  return out;
}

}  // namespace derain::detail
