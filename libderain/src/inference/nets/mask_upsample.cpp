#include "nets/mask_upsample.h"

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "bf16_rounding.h"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int64_t kRowsPerTask = 8;

// Source index pair and weights of one output coordinate, as LibTorch's compute_source_index_and_lambda
// (align_corners = false) computes them in float.
struct Tap {
  int64_t i0, i1;
  float lambda0, lambda1;
};

Tap tapOf(float scale, int64_t out_index, int64_t in_size) {
  float real = scale * (static_cast<float>(out_index) + 0.5f) - 0.5f;
  if (real < 0.0f) real = 0.0f;
  Tap t;
  t.i0 = static_cast<int64_t>(real);
  t.i1 = t.i0 + (t.i0 < in_size - 1 ? 1 : 0);
  const float l1 = std::min(std::max(real - static_cast<float>(t.i0), 0.0f), 1.0f);
  t.lambda1 = l1;
  t.lambda0 = 1.0f - l1;
  return t;
}

// Source row `src` interpolated along the width to out_w floats.
template <typename In>
inline __attribute__((always_inline)) void widenRow(const In* src, const Tap* columns, int64_t out_w, float* out) {
  for (int64_t x = 0; x < out_w; ++x) {
    const Tap& c = columns[x];
    out[x] = static_cast<float>(src[c.i0]) * c.lambda0 + static_cast<float>(src[c.i1]) * c.lambda1;
  }
}

// Output rows [begin, end) of the batch's stacked rows: each source row they read widened once (into
// `widened`, two rows of out_w), then each output row the blend of two widened rows, a loop over
// contiguous floats that vectorises (the gathers of the columns' taps happen once per source row,
// not once per output row: a quarter as often at 4x).
template <typename In, typename Out>
inline __attribute__((always_inline)) void rows(const In* in, Out* out, const Tap* columns, int64_t in_h, int64_t in_w,
                                                int64_t out_h, int64_t out_w, float scale_h, int64_t begin,
                                                int64_t end, float* widened) {
  int64_t held[2] = {-1, -1};  // the source rows (n * in_h + row) in widened's two slots
  auto slotOf = [&](int64_t source) { return held[0] == source ? 0 : held[1] == source ? 1 : -1; };
  auto widen = [&](int64_t source, int slot) {
    widenRow(in + source * in_w, columns, out_w, widened + slot * out_w);
    held[slot] = source;
  };
  for (int64_t row = begin; row < end; ++row) {
    const int64_t n = row / out_h, y = row % out_h;
    const Tap r = tapOf(scale_h, y, in_h);
    const int64_t above = n * in_h + r.i0, below = n * in_h + r.i1;
    int top = slotOf(above);
    if (top < 0) widen(above, top = slotOf(below) == 0 ? 1 : 0);  // keeps `below` where it is held
    int bottom = slotOf(below);
    if (bottom < 0) widen(below, bottom = 1 - top);
    const float* t = widened + top * out_w;
    const float* b = widened + bottom * out_w;
    Out* o = out + row * out_w;
    for (int64_t x = 0; x < out_w; ++x) o[x] = storedAs<Out>(t[x] * r.lambda0 + b[x] * r.lambda1);
  }
}

#define DERAIN_MASK_ROWS(In, Out)                                                                                 \
  DERAIN_SIMD_CLONES void rowsClone(const In* in, Out* out, const Tap* columns, int64_t in_h, int64_t in_w,       \
                                    int64_t out_h, int64_t out_w, float scale_h, int64_t begin, int64_t end,      \
                                    float* widened) {                                                             \
    rows(in, out, columns, in_h, in_w, out_h, out_w, scale_h, begin, end, widened);                               \
  }
DERAIN_MASK_ROWS(float, float)
DERAIN_MASK_ROWS(float, c10::BFloat16)
DERAIN_MASK_ROWS(c10::BFloat16, float)
DERAIN_MASK_ROWS(c10::BFloat16, c10::BFloat16)
#undef DERAIN_MASK_ROWS

template <typename In, typename Out>
void run(const In* in, Out* out, int64_t batch, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  const float scale_h = static_cast<float>(in_h) / static_cast<float>(out_h);
  const float scale_w = static_cast<float>(in_w) / static_cast<float>(out_w);
  std::vector<Tap> columns(out_w);
  for (int64_t x = 0; x < out_w; ++x) columns[x] = tapOf(scale_w, x, in_w);
  parallelFor(0, batch * out_h, kRowsPerTask, [&](int64_t begin, int64_t end) {
    std::vector<float> widened(2 * out_w);
    rowsClone(in, out, columns.data(), in_h, in_w, out_h, out_w, scale_h, begin, end, widened.data());
  });
}

template <typename In>
void dispatchOut(const In* in, at::Tensor& out, int64_t batch, int64_t in_h, int64_t in_w, int64_t out_h,
                 int64_t out_w) {
  if (out.scalar_type() == torch::kFloat)
    run(in, out.data_ptr<float>(), batch, in_h, in_w, out_h, out_w);
  else
    run(in, out.data_ptr<c10::BFloat16>(), batch, in_h, in_w, out_h, out_w);
}
}  // namespace

at::Tensor upsampleMask(const at::Tensor& mask, int64_t height, int64_t width, at::ScalarType dtype) {
  const auto type = mask.scalar_type();
  const bool fast = c10::InferenceMode::is_enabled() && mask.is_cpu() && mask.dim() == 4 && mask.size(1) == 1 && mask.is_contiguous() &&
                    (type == torch::kFloat || type == torch::kBFloat16) &&
                    (dtype == torch::kFloat || dtype == torch::kBFloat16);
  if (!fast) {
    namespace F = torch::nn::functional;
    return F::interpolate(mask.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                       .size(std::vector<int64_t>{height, width})
                                                       .mode(torch::kBilinear)
                                                       .align_corners(false))
        .to(dtype);
  }
  const int64_t batch = mask.size(0), in_h = mask.size(2), in_w = mask.size(3);
  auto out = torch::empty({batch, 1, height, width}, mask.options().dtype(dtype));
  if (type == torch::kFloat)
    dispatchOut(mask.data_ptr<float>(), out, batch, in_h, in_w, height, width);
  else
    dispatchOut(mask.data_ptr<c10::BFloat16>(), out, batch, in_h, in_w, height, width);
  return out;
}

}  // namespace derain::detail
