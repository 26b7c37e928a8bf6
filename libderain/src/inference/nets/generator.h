// Generator G_N (derain) / G_R (rainmake): an encoder-decoder over cat(image, mask) with dilated
// convolutions at 1/4 resolution and skip connections at 1/2 and full resolution.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "derain/config.hpp"
#include "nets/derived_conv.h"
#include "nets/packed_conv.h"

namespace derain::detail {

// Doubles the resolution: transposed conv k4 s2, then a 2x2 average (after a one-pixel top/left
// reflection pad) that removes the transposed conv's checkerboard pattern, then ReLU.
// In inference on the CPU the transposed convolution runs as its phase convolution: each of the four
// output phases (row 2y + a, column 2x + b) of a k4 s2 p1 transposed conv is a 2x2 convolution of the
// input, so one 2x2 convolution (padding 1) to 4x the channels computes all four, phase (a, b) of
// (y, x) at (y + a, x + b) of its channel block a * 2 + b; the smoothing pass reads them from there
// (upsample_smooth.h). LibTorch 1.13 runs channels_last transposed convolutions on a slow im2col path
// and has no bf16 one at all; the 2x2 convolution is a packed oneDNN call in fp32 and bf16, with the
// transposed conv's own taps only (the 3x3 sub-pixel form used before multiplied 5 of 9 by zero).
// Same sums in another order: equal to ~1e-6.
class UpsampleImpl : public torch::nn::Module {
 public:
  UpsampleImpl(int in_channels, int out_channels);
  torch::Tensor forward(const torch::Tensor& x);
  // forward(x) + skip (the generator's skip connection), added in the upsampling's own pass where it can.
  torch::Tensor forwardAdd(const torch::Tensor& x, const torch::Tensor& skip);

 private:
  static torch::Tensor smooth(const torch::Tensor& y);  // pad, 2x2 average, ReLU
  torch::Tensor phaseConvolution(const torch::Tensor& x);  // the inference path, before its smoothing
  torch::Tensor run(const torch::Tensor& x, const torch::Tensor* skip);
  torch::nn::ConvTranspose2d deconv_{nullptr};
  DerivedConv phase_conv_;  // made from deconv_'s weights
};
TORCH_MODULE(Upsample);

// The phase convolution's output [n, 4 * c, h + 1, w + 1] as the transposed convolution's output
// [n, c, 2h, 2w] (before the smoothing), by LibTorch's operators: the reference for the fused pass.
torch::Tensor interleavePhases(const torch::Tensor& phases);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GeneratorConfig& config);
  // image: N x 3 x H x W in [-1, 1], mask: N x 1 x H x W; H and W multiples of 4 * unshuffle.
  // Returns N x 3 x H x W, no output activation.
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& mask);

 private:
  int unshuffle_ = 1;
  bool residual_ = false;
  torch::nn::Sequential encode_full_{nullptr};  // -> skip1 (full res)
  torch::nn::Sequential encode_half_{nullptr};  // -> skip2 (1/2 res)
  torch::nn::Sequential body_{nullptr};         // 1/4 res: down, plain, dilated, plain convs
  Upsample up_half_{nullptr};                   // -> 1/2 res
  torch::nn::Sequential decode_half_{nullptr};
  Upsample up_full_{nullptr};                   // -> full res
  torch::nn::Sequential decode_full_{nullptr};  // -> 3 channels
  // With unshuffle and residual, in inference on the CPU: decode_full_'s last convolution with its
  // output channels in row-phase order (shuffle_add.h).
  DerivedConv last_conv_;
  // In inference on the CPU: decode_full_'s first convolution over pairs of columns where it goes to
  // 8 channels (width_pair_conv.h).
  DerivedConv paired_conv_;
};
TORCH_MODULE(Generator);

}  // namespace derain::detail
