#include "grey_rain.h"

#include <type_traits>
#include <vector>

#include <torch/torch.h>

#include "bf16_rounding.h"
#include "branch_free.h"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int kChannels = 3;
constexpr int kBoundRadius = kRainBoundWindow / 2;
constexpr int64_t kPixelsPerTask = 4096;

// One row: the removed layer's luma and, when bounded, the input's luma in one pass over the pixels,
// the luma's minimum over the window (one shifted minimum per offset, a loop the compiler
// vectorises) and the clamp; then input - removed. removed, luma, background: width floats.
template <typename T, bool kBounded>
inline __attribute__((always_inline)) void greyRainRow(const T* in, const T* de, const float* weights,
                                                       float strength, T* o, int64_t width, float* removed,
                                                       float* luma, float* background) {
  const float w0 = weights[0], w1 = weights[1], w2 = weights[2];
  // LibTorch's ((input - derained) * w).sum(1) and (input * w).sum(1): every operator rounds to T,
  // the sum adds the channels in order in float, starting from 0 (which turns a -0 into +0).
  for (int64_t x = 0; x < width; ++x) {
    const T* i = in + x * kChannels;
    const T* d = de + x * kChannels;
    const float i0 = static_cast<float>(i[0]), i1 = static_cast<float>(i[1]), i2 = static_cast<float>(i[2]);
    float r = 0.0f;
    r += roundedAs<T>(roundedAs<T>(i0 - static_cast<float>(d[0])) * w0);
    r += roundedAs<T>(roundedAs<T>(i1 - static_cast<float>(d[1])) * w1);
    r += roundedAs<T>(roundedAs<T>(i2 - static_cast<float>(d[2])) * w2);
    removed[x] = roundedAs<T>(r);
    if (kBounded) {
      float l = 0.0f;
      l += roundedAs<T>(i0 * w0);
      l += roundedAs<T>(i1 * w1);
      l += roundedAs<T>(i2 * w2);
      luma[x] = roundedAs<T>(l);
    }
  }
  if (strength != 1.0f) {
    // LibTorch multiplies a T tensor by a scalar rounded to T (a bf16 engine's 1.7 is 1.703125).
    const float s = roundedAs<T>(strength);
    for (int64_t x = 0; x < width; ++x) removed[x] = roundedAs<T>(removed[x] * s);
  }
  if (kBounded) {
    for (int64_t x = 0; x < width; ++x) background[x] = luma[x];
    for (int64_t k = 1; k <= kBoundRadius && k < width; ++k) {
      for (int64_t x = 0; x + k < width; ++x) background[x] = lesser(background[x], luma[x + k]);
      for (int64_t x = k; x < width; ++x) background[x] = lesser(background[x], luma[x - k]);
    }
    for (int64_t x = 0; x < width; ++x)
      removed[x] = greater(lesser(removed[x], roundedAs<T>(luma[x] - background[x])), 0.0f);
  }
  for (int64_t x = 0; x < width; ++x) {
    const T* i = in + x * kChannels;
    T* d = o + x * kChannels;
    const float r = removed[x];
    d[0] = storedAs<T>(static_cast<float>(i[0]) - r);
    d[1] = storedAs<T>(static_cast<float>(i[1]) - r);
    d[2] = storedAs<T>(static_cast<float>(i[2]) - r);
  }
}

#define DERAIN_GREY_RAIN_ROWS(T, kBounded)                                                                           \
  DERAIN_SIMD_CLONES void greyRainRows(const T* input, const T* derained, const float* weights, float strength,      \
                                       T* out, int64_t width, int64_t begin, int64_t end, float* scratch,            \
                                       std::integral_constant<bool, kBounded>) {                                     \
    for (int64_t r = begin; r < end; ++r) {                                                                          \
      const int64_t at = r * width * kChannels;                                                                      \
      greyRainRow<T, kBounded>(input + at, derained + at, weights, strength, out + at, width, scratch,               \
                               scratch + width, scratch + 2 * width);                                                \
    }                                                                                                                \
  }
DERAIN_GREY_RAIN_ROWS(float, false)
DERAIN_GREY_RAIN_ROWS(float, true)
DERAIN_GREY_RAIN_ROWS(c10::BFloat16, false)
DERAIN_GREY_RAIN_ROWS(c10::BFloat16, true)
#undef DERAIN_GREY_RAIN_ROWS

template <typename T, bool kBounded>
void run(const T* input, const T* derained, const float weights[kChannels], float strength, T* out, int64_t rows,
         int64_t width) {
  parallelFor(0, rows, std::max<int64_t>(1, kPixelsPerTask / width), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(3 * width);
    greyRainRows(input, derained, weights, strength, out, width, begin, end, scratch.data(),
                 std::integral_constant<bool, kBounded>());
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
