#include "nets/feature_blocks.h"
#include "nets/channel_cat.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
PackedConv2d conv3x3(int in, int out) {
  return PackedConv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int channels) {
  conv1_ = register_module("conv1", conv3x3(channels, channels));
  conv2_ = register_module("conv2", conv3x3(channels, channels));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return conv2_->forwardAddRelu(conv1_->forwardRelu(x), x, /*relu_first=*/true);
}

torch::Tensor ResidualBlockImpl::forwardConsuming(torch::Tensor x) {
  auto y = conv1_->forwardRelu(x);
  return conv2_->forwardAddReluConsuming(y, std::move(x), /*relu_first=*/true);
}

HybridBlockImpl::HybridBlockImpl(int channels) {
  const int growth = channels / 2;  // dense-path growth rate
  res1_ = register_module("res1", conv3x3(channels, channels));
  res2_ = register_module("res2", conv3x3(channels, channels));
  dense1_ = register_module("dense1", conv3x3(channels, growth));
  dense2_ = register_module("dense2", conv3x3(channels + growth, growth));
  dense3_ = register_module("dense3", conv3x3(channels + 2 * growth, growth));
  fuse_ = register_module("fuse", PackedConv2d(torch::nn::Conv2dOptions(channels + 3 * growth, channels, 1)));
}

torch::Tensor HybridBlockImpl::forward(const torch::Tensor& x) {
  auto residual = res2_->forwardRelu(res1_->forwardRelu(x));
  auto d1 = dense1_->forwardRelu(x);
  auto d2 = dense2_->forwardRelu(catChannels({x, d1}));
  auto d3 = dense3_->forwardRelu(catChannels({x, d1, d2}));
  return fuse_->forwardAddRelu(catChannels({residual, d1, d2, d3}), x, /*relu_first=*/false);
}

torch::nn::Sequential makeFeatureBlocks(FeatureBlock kind, int channels, int count) {
  torch::nn::Sequential blocks;
  for (int i = 0; i < count; ++i) {
    if (kind == FeatureBlock::Residual)
      blocks->push_back(ResidualBlock(channels));
    else
      blocks->push_back(HybridBlock(channels));
  }
  return blocks;
}

namespace {
// owned: y is this function's own (not the caller's, or given up by the caller)
torch::Tensor runBlocks(torch::nn::Sequential& blocks, torch::Tensor y, bool owned) {
  for (auto& block : *blocks) {
    auto residual = std::dynamic_pointer_cast<ResidualBlockImpl>(block.ptr());
    y = residual && owned ? residual->forwardConsuming(std::move(y)) : block.forward(y);
    owned = true;
  }
  return y;
}
}  // namespace

torch::Tensor runFeatureBlocks(torch::nn::Sequential& blocks, const torch::Tensor& x) {
  return runBlocks(blocks, x, /*owned=*/false);
}

torch::Tensor runFeatureBlocksConsuming(torch::nn::Sequential& blocks, torch::Tensor x) {
  return runBlocks(blocks, std::move(x), /*owned=*/true);
}

}  // namespace derain::detail
