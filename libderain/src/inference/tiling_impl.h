// Template part of tiling.h.
#pragma once

#include <torch/torch.h>

namespace derain::detail {

template <typename Process>
at::Tensor processTiled(const at::Tensor& image, int tile, int overlap, Process&& process) {
  const int height = static_cast<int>(image.size(2)), width = static_cast<int>(image.size(3));
  auto rows = planSpans(height, tile, overlap);
  auto cols = planSpans(width, tile, overlap);
  if (rows.size() == 1 && cols.size() == 1) return process(image);

  at::Tensor sum, weight_sum = torch::zeros({1, 1, height, width});
  for (const Span& r : rows) {
    auto wr = spanWeights(r, height, overlap);
    auto row_w = torch::from_blob(wr.data(), {1, 1, r.size, 1}).clone();
    for (const Span& c : cols) {
      auto wc = spanWeights(c, width, overlap);
      auto col_w = torch::from_blob(wc.data(), {1, 1, 1, c.size}).clone();
      auto w = row_w * col_w;
      auto piece = image.narrow(2, r.begin, r.size).narrow(3, c.begin, c.size);
      auto out = process(piece);
      if (!sum.defined()) sum = torch::zeros({1, out.size(1), height, width});
      sum.narrow(2, r.begin, r.size).narrow(3, c.begin, c.size).add_(out * w);
      weight_sum.narrow(2, r.begin, r.size).narrow(3, c.begin, c.size).add_(w);
    }
  }
  return sum / weight_sum;
}

}  // namespace derain::detail
