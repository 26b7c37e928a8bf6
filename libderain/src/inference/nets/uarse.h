// U-ARSE: the recurrent attention module that extracts the rain-streak mask. The same weights run
// every stage; each stage sees the image and the previous mask. One module serves r, n, n_r and r_n.
#pragma once

#include "nets/packed_conv.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "derain/config.hpp"
#include "nets/conv_lstm.h"

namespace derain::detail {

class UARSEImpl : public torch::nn::Module {
 public:
  explicit UARSEImpl(const AttentionConfig& config);
  // image: N x 3 x H x W in [-1, 1]. Returns the last stage's mask, N x 1 x H x W (no activation).
  // With config.scale > 1 the stages run at 1/scale resolution and the mask is upsampled bilinearly.
  torch::Tensor forward(const torch::Tensor& image);

 private:
  AttentionConfig config_;
  PackedConv2d conv_in_{nullptr};   // cat(image, mask) -> features
  ConvLSTM lstm_{nullptr};
  torch::nn::Sequential blocks_{nullptr};
  PackedConv2d conv_out_{nullptr};  // features -> mask
};
TORCH_MODULE(UARSE);

}  // namespace derain::detail
