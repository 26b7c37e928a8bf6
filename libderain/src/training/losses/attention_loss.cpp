#include "losses/attention_loss.h"

#include <cmath>

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr double kPriorMean = 0.5;    // centre of (0, 1)
constexpr double kPriorStd = 0.25;    // (0, 1) spans +-2 standard deviations
}  // namespace

at::Tensor attentionPrior(c10::IntArrayRef shape, at::Generator& generator) {
  // Inverse-CDF sampling of the truncated Gaussian: u ~ U(Phi(a), Phi(b)), x = mean + std * Phi^-1(u);
  // exact, and one uniform draw per value whatever the shape.
  const double a = (0.0 - kPriorMean) / kPriorStd, b = (1.0 - kPriorMean) / kPriorStd;
  auto phi = [](double z) { return 0.5 * (1.0 + std::erf(z / std::sqrt(2.0))); };
  auto u = torch::empty(shape, torch::kFloat64);
  u.uniform_(phi(a), phi(b), generator);
  auto z = torch::erfinv(u * 2.0 - 1.0) * std::sqrt(2.0);
  return (z * kPriorStd + kPriorMean).clamp(0.0, 1.0).to(torch::kFloat32);
}

at::Tensor rainyAttentionLoss(const at::Tensor& att_r, const at::Tensor& prior) {
  return (att_r - prior).pow(2).mean();
}

at::Tensor cleanAttentionLoss(const at::Tensor& att_n) { return att_n.pow(2).mean(); }

}  // namespace derain::detail
