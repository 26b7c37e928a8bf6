// Template part of tiling.h.
#pragma once

#include <torch/torch.h>

namespace derain::detail {

template <typename Process, typename Emit>
void processTiledRows(int height, int width, int tile, int overlap, Process&& process, Emit&& emit) {
  const auto rows = planSpans(height, tile, overlap);
  const auto cols = planSpans(width, tile, overlap);
  if (rows.size() == 1 && cols.size() == 1) {
    emit(0, process(rows[0], cols[0]));
    return;
  }
  // Accumulators hold rows [acc_begin, acc_begin + sum.size(2)): the band being processed plus the
  // rows it shares with the band before. Rows above the next band's start are final and emitted.
  at::Tensor sum, weight_sum;
  int acc_begin = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Span& r = rows[i];
    const int acc_end = r.begin + r.size;
    const auto wr = spanWeights(r, height, overlap);
    const auto row_w = torch::from_blob(const_cast<float*>(wr.data()), {1, 1, r.size, 1}).clone();
    for (const Span& c : cols) {
      const auto wc = spanWeights(c, width, overlap);
      const auto col_w = torch::from_blob(const_cast<float*>(wc.data()), {1, 1, 1, c.size}).clone();
      const auto w = row_w * col_w;
      const auto out = process(r, c);
      if (!sum.defined() || sum.size(2) < acc_end - acc_begin) {
        // Grow to cover this band, keeping what the rows shared with the previous band hold.
        auto grown_sum = torch::zeros({1, out.size(1), acc_end - acc_begin, width});
        auto grown_weight = torch::zeros({1, 1, acc_end - acc_begin, width});
        if (sum.defined()) {
          grown_sum.narrow(2, 0, sum.size(2)).copy_(sum);
          grown_weight.narrow(2, 0, weight_sum.size(2)).copy_(weight_sum);
        }
        sum = grown_sum;
        weight_sum = grown_weight;
      }
      sum.narrow(2, r.begin - acc_begin, r.size).narrow(3, c.begin, c.size).add_(out * w);
      weight_sum.narrow(2, r.begin - acc_begin, r.size).narrow(3, c.begin, c.size).add_(w);
    }
    const int final_end = i + 1 < rows.size() ? rows[i + 1].begin : height;
    const int done = final_end - acc_begin;
    if (done > 0) emit(acc_begin, sum.narrow(2, 0, done) / weight_sum.narrow(2, 0, done));
    // Keep only the rows the next band shares (a copy, so the emitted rows' memory is freed).
    sum = sum.narrow(2, done, sum.size(2) - done).clone();
    weight_sum = weight_sum.narrow(2, done, weight_sum.size(2) - done).clone();
    acc_begin = final_end;
  }
}

}  // namespace derain::detail
