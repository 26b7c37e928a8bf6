// Concatenation along channels that keeps the channels_last layout. LibTorch 1.13's cat gives an
// NCHW result unless every input suggests channels_last, and a 1-channel map (the attention mask)
// never does (its strides fit both layouts): every network input is such a cat, so without this the
// whole lite model ran NCHW and oneDNN re-ordered each convolution's input and output.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace derain::detail {

// Same values as torch::cat(parts, 1); channels_last when the first part is a channels_last 4-D tensor.
at::Tensor catChannels(c10::ArrayRef<at::Tensor> parts);

// out.narrow(1, offset, part.size(1)).copy_(part), pixel by pixel where both are dense channels_last.
void copyChannelsInto(const at::Tensor& part, const at::Tensor& out, int64_t offset);

// torch::pixel_unshuffle(catChannels(parts), factor) in one pass (the generators' space-to-depth
// input), channels_last, the same values: it only moves them.
at::Tensor catUnshuffled(c10::ArrayRef<at::Tensor> parts, int64_t factor);

}  // namespace derain::detail
