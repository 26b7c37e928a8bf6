#include "grey_rain.h"

#include <vector>

#include <torch/torch.h>

#include "bf16_rounding.h"
#include "branch_free.h"
#include "parallel_for.h"

namespace derain::detail {

namespace {
constexpr int kChannels = 3;
constexpr int kBoundRadius = kRainBoundWindow / 2;
constexpr int64_t kPixelsPerTask = 4096;

// One row, in passes over float rows: the removed layer's luma and, when bounded, the input's luma,
// its minimum over the window (one shifted minimum per offset, a loop the compiler vectorises) and the
// clamp; then input - removed, interleaved again. in_planes: 3 x width floats; luma, background: width
// floats when bounded. (Not cloned per instruction set: clang cannot clone templates, and the AVX2 and
// AVX-512 clones fused products and sums into FMAs, one rounding where LibTorch's operators take two.)
template <typename T, bool kBounded>
void greyRainRow(const T* in, const T* de, const float* weights, float strength, T* o, int64_t width,
                 float* in_planes, float* removed, float* luma, float* background) {
  for (int64_t x = 0; x < width; ++x) removed[x] = 0.0f;
  if (kBounded)
    for (int64_t x = 0; x < width; ++x) luma[x] = 0.0f;
  // LibTorch's ((input - derained) * w).sum(1) and (input * w).sum(1): every operator rounds to T,
  // the sum adds the channels in order in float.
  for (int c = 0; c < kChannels; ++c) {
    float* plane = in_planes + c * width;
    const float w = weights[c];
    for (int64_t x = 0; x < width; ++x) {
      const float i = static_cast<float>(in[x * kChannels + c]);
      plane[x] = i;
      removed[x] += roundedAs<T>(roundedAs<T>(i - static_cast<float>(de[x * kChannels + c])) * w);
      if (kBounded) luma[x] += roundedAs<T>(i * w);
    }
  }
  for (int64_t x = 0; x < width; ++x) removed[x] = roundedAs<T>(removed[x]);
  if (strength != 1.0f) {
    // LibTorch multiplies a T tensor by a scalar rounded to T (a bf16 engine's 1.7 is 1.703125).
    const float s = roundedAs<T>(strength);
    for (int64_t x = 0; x < width; ++x) removed[x] = roundedAs<T>(removed[x] * s);
  }
  if (kBounded) {
    for (int64_t x = 0; x < width; ++x) luma[x] = roundedAs<T>(luma[x]);
    for (int64_t x = 0; x < width; ++x) background[x] = luma[x];
    for (int64_t k = 1; k <= kBoundRadius && k < width; ++k) {
      for (int64_t x = 0; x + k < width; ++x) background[x] = lesser(background[x], luma[x + k]);
      for (int64_t x = k; x < width; ++x) background[x] = lesser(background[x], luma[x - k]);
    }
    for (int64_t x = 0; x < width; ++x)
      removed[x] = greater(lesser(removed[x], roundedAs<T>(luma[x] - background[x])), 0.0f);
  }
  for (int c = 0; c < kChannels; ++c) {
    const float* plane = in_planes + c * width;
    for (int64_t x = 0; x < width; ++x) o[x * kChannels + c] = storedAs<T>(plane[x] - removed[x]);
  }
}

template <typename T, bool kBounded>
void run(const T* input, const T* derained, const float weights[kChannels], float strength, T* out, int64_t rows,
         int64_t width) {
  parallelFor(0, rows, std::max<int64_t>(1, kPixelsPerTask / width), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch((kChannels + 1 + (kBounded ? 2 : 0)) * width);
    float* in_planes = scratch.data();
    float* removed = in_planes + kChannels * width;
    float* luma = removed + width;
    float* background = luma + width;
    for (int64_t r = begin; r < end; ++r) {
      const int64_t at = r * width * kChannels;
      greyRainRow<T, kBounded>(input + at, derained + at, weights, strength, out + at, width, in_planes, removed,
                               luma, background);
    }
  });
}

// The same in LibTorch's operators (any device and layout).
at::Tensor operatorsGreyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights,
                             bool bounded, float strength) {
  auto removed = ((input - derained) * luma_weights).sum(1, /*keepdim=*/true);
  if (strength != 1.0f) removed = removed * strength;
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
                    bool bounded, float strength) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto dtype = input.scalar_type();
  const bool fast = input.is_cpu() && derained.is_cpu() && input.dim() == 4 && input.size(1) == kChannels &&
                    input.sizes() == derained.sizes() && derained.scalar_type() == dtype &&
                    luma_weights.is_cpu() && luma_weights.numel() == kChannels &&
                    luma_weights.scalar_type() == dtype && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
                    input.is_contiguous(cl) && derained.is_contiguous(cl);
  if (!fast) return operatorsGreyRain(input, derained, luma_weights, bounded, strength);
  // Read in place (the engine's weights are a dense 3-value tensor of the dtype): no copy per frame.
  const auto w = luma_weights.contiguous();
  float weights[kChannels];
  for (int c = 0; c < kChannels; ++c)
    weights[c] = dtype == torch::kFloat ? w.data_ptr<float>()[c] : static_cast<float>(w.data_ptr<c10::BFloat16>()[c]);
  auto out = torch::empty_like(input, cl);
  const int64_t rows = input.size(0) * input.size(2), width = input.size(3);
  auto dispatch = [&](auto* in, auto* de, auto* o) {
    using T = std::remove_pointer_t<decltype(in)>;
    if (bounded)
      run<T, true>(in, de, weights, strength, o, rows, width);
    else
      run<T, false>(in, de, weights, strength, o, rows, width);
  };
  if (dtype == torch::kFloat)
    dispatch(input.data_ptr<float>(), derained.data_ptr<float>(), out.data_ptr<float>());
  else
    dispatch(input.data_ptr<c10::BFloat16>(), derained.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>());
  return out;
}

}  // namespace derain::detail
