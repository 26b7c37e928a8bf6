#include "networks.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr double kInitStd = 0.02;  // N(0, 0.02) conv init of the paper / DCGAN
}

DerainCycleGANImpl::DerainCycleGANImpl(const ModelConfig& config, bool with_discriminators)
    : config_(config) {
  config.validate();
  att = register_module("att", UARSE(config.attention));
  g_n = register_module("g_n", Generator(config.generator));
  g_r = register_module("g_r", Generator(config.generator));
  if (with_discriminators) {
    d_n = register_module("d_n", MultiScaleDiscriminator(config.discriminator));
    d_r = register_module("d_r", MultiScaleDiscriminator(config.discriminator));
  }
}

torch::Tensor DerainCycleGANImpl::derain(const torch::Tensor& rainy) {
  return g_n->forward(rainy, att->forward(rainy));
}

torch::Tensor DerainCycleGANImpl::rainmake(const torch::Tensor& clean) {
  return g_r->forward(clean, att->forward(clean));
}

void initWeights(torch::nn::Module& module, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : module.named_parameters()) {
    auto& p = item.value();
    auto fresh = torch::empty(p.sizes(), torch::kFloat32);
    if (p.dim() >= 2)
      fresh.normal_(0.0, kInitStd, generator);
    else
      fresh.zero_();
    p.copy_(fresh);
  }
}

int64_t countParameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

void toChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
}

}  // namespace derain::detail
