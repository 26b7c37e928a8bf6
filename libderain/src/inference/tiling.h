// Splitting a large frame into overlapping tiles and blending the results back, so that memory
// stays bounded whatever the frame size. Neighbouring tiles share `overlap` pixels and are
// cross-faded linearly there; the frame border itself is never faded.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace derain::detail {

struct Span {
  int begin = 0;
  int size = 0;
};

// Tiles along one axis of `length`: the fewest tiles of `tile` pixels (the last ones shifted to fit)
// whose neighbours overlap by at least `overlap`. One span when length <= tile.
std::vector<Span> planSpans(int length, int tile, int overlap);

// 1-D blend weight of each pixel of a span: a ramp over the overlap on sides that have a neighbour.
std::vector<float> spanWeights(const Span& span, int length, int overlap);

// Runs `process` (1 x Cin x h x w -> 1 x Cout x h x w, CPU float) tile by tile over `image`
// and blends the outputs. With a single tile it is exactly process(image).
template <typename Process>
at::Tensor processTiled(const at::Tensor& image, int tile, int overlap, Process&& process);

}  // namespace derain::detail

#include "tiling_impl.h"
