#include "nets/mask_upsample.h"

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "bf16_rounding.h"
#include "parallel_for.h"

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

template <typename In, typename Out>
void run(const In* in, Out* out, int64_t batch, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  const float scale_h = static_cast<float>(in_h) / static_cast<float>(out_h);
  const float scale_w = static_cast<float>(in_w) / static_cast<float>(out_w);
  std::vector<Tap> columns(out_w);
  for (int64_t x = 0; x < out_w; ++x) columns[x] = tapOf(scale_w, x, in_w);
  parallelFor(0, batch * out_h, kRowsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / out_h, y = row % out_h;
      const Tap r = tapOf(scale_h, y, in_h);
      const In* top = in + (n * in_h + r.i0) * in_w;
      const In* bottom = in + (n * in_h + r.i1) * in_w;
      Out* o = out + row * out_w;
      for (int64_t x = 0; x < out_w; ++x) {
        const Tap& c = columns[x];
        const float w00 = r.lambda0 * c.lambda0, w01 = r.lambda0 * c.lambda1;
        const float w10 = r.lambda1 * c.lambda0, w11 = r.lambda1 * c.lambda1;
        const float v = static_cast<float>(top[c.i0]) * w00 + static_cast<float>(top[c.i1]) * w01 +
                        static_cast<float>(bottom[c.i0]) * w10 + static_cast<float>(bottom[c.i1]) * w11;
        o[x] = storedAs<Out>(v);
      }
    }
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
