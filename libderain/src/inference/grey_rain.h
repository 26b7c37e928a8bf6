// EngineOptions::grey_rain: the derained image input - luma(input - derained), i.e. the removed layer
// made grey with its own luma (BT.601 weights), computed in one pass on the CPU; and, under
// EngineOptions::bounded_rain, that layer kept where rain can put it (see greyRain).
#pragma once

#include <ATen/core/Tensor.h>

namespace derain::detail {

// Width of the row window whose darkest input pixel stands for a pixel's background under the bound:
// a row crosses a near-vertical streak, so its darkest pixel nearby is the background beside it.
// Chosen among 3, 5 and 7 pixels (and wider and square windows) on Rain12, real-rain/ and rain-free
// photos; models/README.md has the figures.
constexpr int kRainBoundWindow = 7;

// input, derained: N x 3 x H x W in the same dtype; luma_weights: 1 x 3 x 1 x 1 in that dtype.
// The removed layer is removed = ((input - derained) * luma_weights).sum(1, true), times `strength`
// when that is not 1 (EngineOptions::rain_strength; a product rounded to the dtype). With `bounded`,
// rain only adds light and never more than the pixel stands above its background, so the layer is
// clamped to [0, luma - background], background being the darkest input luma within
// kRainBoundWindow pixels of the same row (luma = (input * luma_weights).sum(1, true)):
// no brightening, and no dark trace where a streak was over-subtracted. Returns input - removed.
// Equal bit for bit to the same expression in LibTorch's operators (each rounds to the dtype; the
// sums add the channels in order in float; the row minimum is a max-pool of -luma), which run
// instead off the CPU or for other layouts.
at::Tensor greyRain(const at::Tensor& input, const at::Tensor& derained, const at::Tensor& luma_weights,
                    bool bounded, float strength = 1.0f);

}  // namespace derain::detail
