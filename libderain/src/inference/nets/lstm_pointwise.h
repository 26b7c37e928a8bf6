// The ConvLSTM cell's element-wise part in one pass, for inference on the CPU in fp32 or bf16: from the gate
// convolution's output (channels_last: per pixel the i, f, o, g pre-activations, `channels` each)
// and the previous cell state, c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g) and
// h = sigmoid(o) * tanh(c). LibTorch does this as nine operators over strided chunks of the gates,
// each a pass over memory: in the lite U-ARSE (16 channels at 1/4 resolution) they took about a
// quarter of the whole model's time. Torch-free (plain pointers) so it can be built with OpenMP.
#pragma once

#include <cstdint>

#include <c10/util/BFloat16.h>

namespace derain::detail {

// gates: pixels x 4 * channels; c_prev, c_out, h_out: pixels x channels (all contiguous).
// h_copy, when not null, gets h_out again at a pixel stride of h_copy_stride elements (the next
// step's input, whose other channels the caller fills: the next step then needs no concatenation).
// Runs on `threads` OpenMP threads (LibTorch's pool). fp32: within float rounding of LibTorch's nine
// operators. bf16: computed in float and rounded once per output, where LibTorch's bf16 operators
// round after each of the nine (so closer to the fp32 result than they are, not bit-equal to them).
void lstmPointwise(const float* gates, const float* c_prev, float* c_out, float* h_out, int64_t pixels,
                   int channels, int threads, float* h_copy = nullptr, int64_t h_copy_stride = 0);
void lstmPointwise(const c10::BFloat16* gates, const c10::BFloat16* c_prev, c10::BFloat16* c_out,
                   c10::BFloat16* h_out, int64_t pixels, int channels, int threads, c10::BFloat16* h_copy = nullptr,
                   int64_t h_copy_stride = 0);

}  // namespace derain::detail
