#include "losses/perceptual_loss.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};
}  // namespace

PerceptualLoss::PerceptualLoss(VGG16Features features) : features_(std::move(features)) {
  for (auto& p : features_->parameters()) p.set_requires_grad(false);
  features_->eval();
}

at::Tensor PerceptualLoss::normaliseForVGG(const at::Tensor& image) {
  auto options = image.options();
  auto mean = torch::tensor(kImageNetMean, torch::kFloat64).to(options).reshape({1, 3, 1, 1});
  auto std = torch::tensor(kImageNetStd, torch::kFloat64).to(options).reshape({1, 3, 1, 1});
  return ((image + 1.0) * 0.5 - mean) / std;
}

at::Tensor PerceptualLoss::operator()(const at::Tensor& derained, const at::Tensor& rainy) const {
  std::vector<at::Tensor> target;
  {
    torch::NoGradGuard no_grad;
    target = features_->forward(normaliseForVGG(rainy));
  }
  auto produced = features_->forward(normaliseForVGG(derained));
  at::Tensor total;
  for (size_t i = 0; i < produced.size(); ++i) {
    auto term = (produced[i] - target[i]).pow(2).mean();
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace derain::detail
