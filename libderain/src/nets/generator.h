// Generator G_N (derain) / G_R (rainmake): an encoder-decoder over cat(image, mask) with dilated
// convolutions at 1/4 resolution and skip connections at 1/2 and full resolution.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "derain/config.hpp"

namespace derain::detail {

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GeneratorConfig& config);
  // image: N x 3 x H x W in [-1, 1], mask: N x 1 x H x W; H and W multiples of 4.
  // Returns N x 3 x H x W, no output activation.
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& mask);

 private:
  torch::nn::Sequential encode_full_{nullptr};  // -> skip1 (full res)
  torch::nn::Sequential encode_half_{nullptr};  // -> skip2 (1/2 res)
  torch::nn::Sequential body_{nullptr};         // 1/4 res: down, plain, dilated, plain convs
  torch::nn::Sequential up_half_{nullptr};      // transposed conv + 2x2 smoothing -> 1/2 res
  torch::nn::Sequential decode_half_{nullptr};
  torch::nn::Sequential up_full_{nullptr};      // -> full res
  torch::nn::Sequential decode_full_{nullptr};  // -> 3 channels
};
TORCH_MODULE(Generator);

}  // namespace derain::detail
