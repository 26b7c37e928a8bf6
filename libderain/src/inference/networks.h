// The whole DerainCycleGAN: U-ARSE (att), generators G_N (g_n) and G_R (g_r), and, for training,
// discriminators D_N (d_n) and D_R (d_r). Parameter names ("att.", "g_n.", ...) are the keys of
// model files and checkpoints.
#pragma once

#include <cstdint>
#include <string>

#include <torch/nn/module.h>

#include "derain/config.hpp"
#include "nets/discriminator.h"
#include "nets/generator.h"
#include "nets/uarse.h"

namespace derain::detail {

class DerainCycleGANImpl : public torch::nn::Module {
 public:
  DerainCycleGANImpl(const ModelConfig& config, bool with_discriminators);

  // n_r = G_N(Att(r), r) and r_n = G_R(Att(n), n); images N x 3 x H x W in [-1, 1], H, W multiples
  // of config.sizeMultiple().
  torch::Tensor derain(const torch::Tensor& rainy);
  torch::Tensor rainmake(const torch::Tensor& clean);

  const ModelConfig& config() const { return config_; }
  bool hasDiscriminators() const { return !d_n.is_empty(); }

  UARSE att{nullptr};
  Generator g_n{nullptr};
  Generator g_r{nullptr};
  MultiScaleDiscriminator d_n{nullptr};
  MultiScaleDiscriminator d_r{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(DerainCycleGAN);

// DCGAN-style init: conv / transposed-conv weights ~ N(0, 0.02), biases 0; reproducible from seed.
void initWeights(torch::nn::Module& module, uint64_t seed);

// Number of scalar parameters of a module (all of its submodules included).
int64_t countParameters(const torch::nn::Module& module);

// Converts every 4-D parameter to channels_last memory format (oneDNN's fast path on CPU).
void toChannelsLast(torch::nn::Module& module);

}  // namespace derain::detail

namespace derain::detail {
// Multiply-accumulates of one inference pass (U-ARSE + one generator) on a width x height frame
// (after padding to the size multiple). Counts convolutions only, the bulk of the work.
int64_t inferenceMacs(const ModelConfig& config, int width, int height);
}  // namespace derain::detail
