#include "losses/gmm_loss.h"

#include <cmath>
#include <string>

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
constexpr double kMinWeight = 1e-8;       // keeps log(pi_k) finite for a starved component
constexpr double kInitialSpread = 4.0;    // ratio between neighbouring initial variances
const double kLog2Pi = std::log(2.0 * M_PI);

// log pi_k + log N(x | 0, var_k) for every value (rows) and component (columns).
at::Tensor componentLogDensities(const at::Tensor& values, const at::Tensor& weights,
                                 const at::Tensor& variances) {
  auto x2 = values.reshape({-1, 1}).pow(2);
  return weights.log().reshape({1, -1}) - 0.5 * (kLog2Pi + variances.log()).reshape({1, -1}) -
         x2 / (2.0 * variances.reshape({1, -1}));
}
}  // namespace

ZeroMeanGMM::ZeroMeanGMM(int components, double variance_floor)
    : components_(components), variance_floor_(variance_floor) {
  if (components < 1) throw Error("GMM loss: the number of components must be >= 1, got " + std::to_string(components));
  if (!(variance_floor > 0.0)) throw Error("GMM loss: the variance floor must be > 0");
}

void ZeroMeanGMM::fit(const at::Tensor& samples, int iterations) {
  torch::NoGradGuard no_grad;
  auto x = samples.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  if (x.numel() == 0) throw Error("GMM loss: no samples to fit");
  if (!initialised()) {
    double var = std::max(x.pow(2).mean().item<double>(), variance_floor_);
    weights_ = torch::full({components_}, 1.0 / components_, torch::kFloat64);
    auto exponents = torch::arange(components_, torch::kFloat64) - (components_ - 1) / 2.0;
    variances_ = (var * torch::pow(kInitialSpread, exponents)).clamp_min(variance_floor_);
  }
  auto x2 = x.pow(2).reshape({-1, 1});
  for (int it = 0; it < iterations; ++it) {
    // E step: responsibilities gamma_nk = pi_k N(x_n | 0, var_k) / sum_j pi_j N(x_n | 0, var_j).
    auto log_p = componentLogDensities(x, weights_, variances_);
    auto gamma = (log_p - log_p.logsumexp(1, true)).exp();
    // M step: pi_k = mean_n gamma_nk, var_k = sum_n gamma_nk x_n^2 / sum_n gamma_nk (means fixed at 0).
    auto mass = gamma.sum(0);
    weights_ = (mass / static_cast<double>(x.numel())).clamp_min(kMinWeight);
    weights_ = weights_ / weights_.sum();
    variances_ = ((gamma * x2).sum(0) / mass.clamp_min(1e-300)).clamp_min(variance_floor_);
  }
}

void ZeroMeanGMM::fit(const at::Tensor& samples, int iterations, const SumAcrossRanks& sum_across_ranks) {
  if (!sum_across_ranks) return fit(samples, iterations);
  torch::NoGradGuard no_grad;
  auto x = samples.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  if (x.numel() == 0) throw Error("GMM loss: no samples to fit");
  auto x2 = x.pow(2).reshape({-1, 1});
  if (!initialised()) {
    at::Tensor stats = torch::stack({x2.sum(), torch::scalar_tensor(static_cast<double>(x.numel()), torch::kFloat64)});
    sum_across_ranks(stats);
    const double var = std::max(stats[0].item<double>() / stats[1].item<double>(), variance_floor_);
    weights_ = torch::full({components_}, 1.0 / components_, torch::kFloat64);
    auto exponents = torch::arange(components_, torch::kFloat64) - (components_ - 1) / 2.0;
    variances_ = (var * torch::pow(kInitialSpread, exponents)).clamp_min(variance_floor_);
  }
  for (int it = 0; it < iterations; ++it) {
    auto log_p = componentLogDensities(x, weights_, variances_);
    auto gamma = (log_p - log_p.logsumexp(1, true)).exp();
    // [count, mass_1..K, sum_n gamma_nk x_n^2 (K)], summed over the ranks.
    at::Tensor stats = torch::cat({torch::full({1}, static_cast<double>(x.numel()), torch::kFloat64), gamma.sum(0),
                                   (gamma * x2).sum(0)});
    sum_across_ranks(stats);
    const at::Tensor mass = stats.narrow(0, 1, components_), weighted = stats.narrow(0, 1 + components_, components_);
    weights_ = (mass / stats[0].item<double>()).clamp_min(kMinWeight);
    weights_ = weights_ / weights_.sum();
    variances_ = (weighted / mass.clamp_min(1e-300)).clamp_min(variance_floor_);
  }
}

at::Tensor ZeroMeanGMM::negativeLogLikelihood(const at::Tensor& residual) const {
  if (!initialised()) throw Error("GMM loss: fit() must run before the likelihood is evaluated");
  auto options = residual.options();
  auto log_p = componentLogDensities(residual, weights_.to(options), variances_.to(options));
  return -log_p.logsumexp(1).mean();
}

void ZeroMeanGMM::setState(const at::Tensor& weights, const at::Tensor& variances) {
  if (weights.numel() != components_ || variances.numel() != components_)
    throw Error("GMM loss: saved state has " + std::to_string(weights.numel()) + " components, expected " +
                std::to_string(components_));
  weights_ = weights.to(torch::kCPU, torch::kFloat64).reshape({components_}).clone();
  variances_ = variances.to(torch::kCPU, torch::kFloat64).reshape({components_}).clone();
}

}  // namespace derain::detail
