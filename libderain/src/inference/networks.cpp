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

namespace derain::detail {

int64_t inferenceMacs(const ModelConfig& config, int width, int height) {
  const int64_t m = config.sizeMultiple();
  const int64_t H = (height + m - 1) / m * m, W = (width + m - 1) / m * m;
  int64_t P = H * W;  // full-resolution pixels
  constexpr int64_t k3 = 9;

  const auto& a = config.attention;
  const int64_t ac = a.channels;
  int64_t block = 0;
  if (a.block == FeatureBlock::Residual) {
    block = 2 * ac * ac * k3;
  } else {
    const int64_t g = ac / 2;
    block = 2 * ac * ac * k3 + (ac * g + (ac + g) * g + (ac + 2 * g) * g) * k3 + (ac + 3 * g) * ac;
  }
  const int64_t per_stage = 4 * ac * k3 + 2 * ac * 4 * ac * k3 + a.blocks * block + ac * k3;
  const int64_t att_pixels = ((H + a.scale - 1) / a.scale) * ((W + a.scale - 1) / a.scale);
  const int64_t attention = per_stage * a.stages * att_pixels;

  const auto& g = config.generator;
  const int64_t c = g.channels;
  const int64_t f2 = g.unshuffle * g.unshuffle;
  P /= f2;  // the generator runs at 1/unshuffle resolution
  const int64_t body_convs = g.pre_convs + static_cast<int64_t>(g.dilations.size()) + g.post_convs;
  const int64_t generator = 4 * f2 * c * g.first_kernel * g.first_kernel * P              // encode_full
                            + (c * 2 * c + 2 * c * 2 * c) * k3 * P / 4                // encode_half
                            + (2 * c * 4 * c + body_convs * 16 * c * c) * k3 * P / 16  // body
                            + 4 * c * 2 * c * 16 * P / 16                              // up_half (k4 transposed)
                            + 4 * c * c * k3 * P / 4                                   // decode_half
                            + 2 * c * c * 16 * P / 4                                   // up_full
                            + (c * (c / 2) + (c / 2) * 3 * f2) * k3 * P;               // decode_full
  return attention + generator;
}

}  // namespace derain::detail
