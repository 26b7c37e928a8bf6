#include "nets/discriminator.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr int kImageChannels = 3;

torch::nn::Sequential makeScale(const DiscriminatorConfig& config) {
  torch::nn::Sequential net;
  int in = kImageChannels, out = config.channels;
  for (int layer = 0; layer < config.layers; ++layer) {
    net->push_back(torch::nn::ReflectionPad2d(torch::nn::ReflectionPad2dOptions(1)));
    net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4).stride(2)));
    net->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(config.leaky_slope)));
    in = out;
    out *= 2;
  }
  net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, 1, 1)));
  return net;
}
}  // namespace

MultiScaleDiscriminatorImpl::MultiScaleDiscriminatorImpl(const DiscriminatorConfig& config) {
  scales_ = register_module("scales", torch::nn::ModuleList());
  for (int s = 0; s < config.scales; ++s) scales_->push_back(makeScale(config));
}

std::vector<torch::Tensor> MultiScaleDiscriminatorImpl::forward(const torch::Tensor& image) {
  namespace F = torch::nn::functional;
  std::vector<torch::Tensor> outputs;
  torch::Tensor x = image;
  for (size_t s = 0; s < scales_->size(); ++s) {
    if (s > 0)
      x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(2).padding(1).count_include_pad(false));
    outputs.push_back(scales_[s]->as<torch::nn::Sequential>()->forward(x));
  }
  return outputs;
}

}  // namespace derain::detail
