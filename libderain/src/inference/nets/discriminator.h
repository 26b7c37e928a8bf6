// Multi-scale PatchGAN discriminators D_N / D_R (LSGAN: raw patch scores, no sigmoid).
#pragma once

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "derain/config.hpp"

namespace derain::detail {

class MultiScaleDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit MultiScaleDiscriminatorImpl(const DiscriminatorConfig& config);
  // image: N x 3 x H x W. Returns one patch-score map per scale, finest first; the input is
  // average-pooled (3x3, stride 2) between scales.
  std::vector<torch::Tensor> forward(const torch::Tensor& image);

 private:
  torch::nn::ModuleList scales_{nullptr};
};
TORCH_MODULE(MultiScaleDiscriminator);

}  // namespace derain::detail
