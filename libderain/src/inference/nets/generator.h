// Generator G_N (derain) / G_R (rainmake): an encoder-decoder over cat(image, mask) with dilated
// convolutions at 1/4 resolution and skip connections at 1/2 and full resolution.
#pragma once

#include <mutex>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "derain/config.hpp"
#include "nets/packed_conv.h"

namespace derain::detail {

// Doubles the resolution: transposed conv k4 s2, then a 2x2 average (after a one-pixel top/left
// reflection pad) that removes the transposed conv's checkerboard pattern, then ReLU.
// In inference on the CPU the transposed convolution runs as its sub-pixel equivalent: a 3x3
// convolution to 4x the channels (weights rearranged from the transposed ones, zeros where a phase
// has no tap) and a pixel shuffle. LibTorch 1.13 runs channels_last transposed convolutions on a slow
// im2col path (~10 % of the lite model's time in a profile) and has no bf16 one at all; the 3x3
// convolution is a packed oneDNN call in fp32 and bf16. Same sums in another order: equal to ~1e-6.
class UpsampleImpl : public torch::nn::Module {
 public:
  UpsampleImpl(int in_channels, int out_channels);
  torch::Tensor forward(const torch::Tensor& x);
  // forward(x) + skip (the generator's skip connection), added in the upsampling's own pass where it can.
  torch::Tensor forwardAdd(const torch::Tensor& x, const torch::Tensor& skip);

 private:
  static torch::Tensor smooth(const torch::Tensor& y);  // pad, 2x2 average, ReLU
  torch::Tensor subPixel(const torch::Tensor& x);      // the inference path, before its pixel shuffle
  torch::Tensor run(const torch::Tensor& x, const torch::Tensor* skip);
  torch::nn::ConvTranspose2d deconv_{nullptr};
  // The sub-pixel convolution, made from deconv_'s weights; remade when they change. Not a registered
  // submodule: model files and training see only deconv_.
  PackedConv2d subpixel_{nullptr};
  const void* subpixel_source_ = nullptr;
  int64_t subpixel_version_ = -1;
  c10::ScalarType subpixel_dtype_ = c10::ScalarType::Undefined;
  std::mutex subpixel_mutex_;
};
TORCH_MODULE(Upsample);

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
};
TORCH_MODULE(Generator);

}  // namespace derain::detail
