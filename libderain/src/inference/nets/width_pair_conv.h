// A 3x3 convolution to 8 channels (stride 1, padding 1) run as one to 16 channels over pairs of
// columns: output columns 2j and 2j + 1 are channels 0-7 and 8-15 of column j of a 3x4 convolution
// with stride (1, 2) and padding 1, whose taps are the 3x3 ones, shifted by one column for the odd
// member of the pair (a quarter of its taps zero). oneDNN's CPU kernels hold 16 output channels to a
// vector and pad 8 to 16, so the 3x3 form spent half its arithmetic on padding: the lite generator's
// 16 -> 8 decoder convolution at 320x180 took 0.38 ms in bf16 (0.70 in fp32), the paired form
// 0.26-0.29 (0.47-0.48) (README's performance section, with the runs' ceiling lines). In channels_last memory the paired output
// [n, 16, h, w / 2] is the 3x3 form's [n, 8, h, w] byte for byte: unpairWidth() is a view, no copy.
// The same products in another order, plus exact zeros: equal within float rounding.
#pragma once

#include <c10/core/ScalarType.h>

#include "nets/packed_conv.h"

namespace derain::detail {

// True where `conv` on `input` may run paired: a packed 3x3 "same" convolution (packedSame3x3) to 8
// channels, on input of even width.
bool widthPairApplies(PackedConv2dImpl& conv, const torch::Tensor& input);

// The paired convolution of `conv`'s weights, in `dtype` (run outside inference: DerivedConv).
PackedConv2d makeWidthPairConv(const PackedConv2dImpl& conv, c10::ScalarType dtype);

// The paired output [n, 2c, h, w / 2] (channels_last) as the 3x3 form's [n, c, h, w], a view of it.
torch::Tensor unpairWidth(const torch::Tensor& paired);

}  // namespace derain::detail
