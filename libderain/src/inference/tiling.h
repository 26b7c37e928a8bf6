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

// Streams a height x width frame through `process` tile by tile, top band to bottom:
// process(rows, cols) returns the 1 x C x rows.size x cols.size CPU float output of that tile, and
// emit(first_row, rows) receives each run of finished rows (1 x C x n x width, blended) as soon as
// no later tile covers them. Only one band of tiles is ever held in float, so memory grows with the
// frame's width, not its area. With a single tile, emit gets exactly process()'s output. The blend
// adds tiles in the same order for every pixel, so the result does not depend on the banding.
template <typename Process, typename Emit>
void processTiledRows(int height, int width, int tile, int overlap, Process&& process, Emit&& emit);

}  // namespace derain::detail

#include "tiling_impl.h"
