// Feature blocks of a U-ARSE stage: the reference code's residual block and the paper's hybrid
// (dual-path residual dense) block. Both map C channels to C channels at the same resolution.
#pragma once

#include "nets/packed_conv.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "derain/config.hpp"

namespace derain::detail {

// relu(x + relu(conv(relu(conv(x))))): PReNet's res_conv block.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  // The same, free to write its result over x's memory (the caller gives x up).
  torch::Tensor forwardConsuming(torch::Tensor x);

 private:
  PackedConv2d conv1_{nullptr}, conv2_{nullptr};
};
TORCH_MODULE(ResidualBlock);

// Dual-path block: a residual path (two 3x3 convs) and a densely connected path (three 3x3 convs,
// each seeing all earlier features, growth C/2); their outputs are concatenated, fused by a 1x1 conv
// and added to the input.
class HybridBlockImpl : public torch::nn::Module {
 public:
  explicit HybridBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  PackedConv2d res1_{nullptr}, res2_{nullptr};
  PackedConv2d dense1_{nullptr}, dense2_{nullptr}, dense3_{nullptr};
  PackedConv2d fuse_{nullptr};
};
TORCH_MODULE(HybridBlock);

// `count` blocks of the given kind in sequence.
torch::nn::Sequential makeFeatureBlocks(FeatureBlock kind, int channels, int count);

// blocks->forward(x), with each residual block after the first writing over the features the block
// before it made (nothing else holds them), so its residual add costs no pass of its own.
torch::Tensor runFeatureBlocks(torch::nn::Sequential& blocks, const torch::Tensor& x);
// The same, the first block too free to write over x (the caller gives x up): its residual add then
// also goes in place, which oneDNN runs in its fast kernels (a separate residual does not, in bf16).
torch::Tensor runFeatureBlocksConsuming(torch::nn::Sequential& blocks, torch::Tensor x);

}  // namespace derain::detail
