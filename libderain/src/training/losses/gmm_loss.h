// GMM loss: the rain layer S = r - n_r is modelled as a zero-mean Gaussian mixture over its values
// (mixing weights pi_k, variances sigma_k^2). Every training step re-fits the mixture by EM on the
// detached residual, warm-started from the previous step, and the loss is the per-value negative
// log-likelihood of S under it (its gradient flows into G_N).
#pragma once

#include <functional>

#include <ATen/core/Tensor.h>

#include "training_options.h"  // kDefaultGmmVarianceFloor

namespace derain::detail {

class ZeroMeanGMM {
 public:
  // Variances never fall below `variance_floor` (a residual of exactly zero would otherwise collapse a
  // component and blow the likelihood up; TrainingOptions::gmm_variance_floor).
  explicit ZeroMeanGMM(int components, double variance_floor = kDefaultGmmVarianceFloor);

  // Runs `iterations` EM steps on the values of `samples` (any shape, any device; detached and
  // computed in double on the CPU). The first call initialises the mixture from the samples'
  // variance: equal weights, variances spread by factors of 4 around it.
  void fit(const at::Tensor& samples, int iterations);

  // Data-parallel fit: the same EM on the union of every rank's samples. `sum_across_ranks` sums a
  // CPU double tensor over all ranks in place; each EM step reduces its sufficient statistics
  // (count, per-component mass and mass-weighted x^2), so every rank ends with the same mixture.
  using SumAcrossRanks = std::function<void(at::Tensor&)>;
  void fit(const at::Tensor& samples, int iterations, const SumAcrossRanks& sum_across_ranks);

  // Mean over all values of -log sum_k pi_k N(s | 0, sigma_k^2): differentiable in `residual`.
  at::Tensor negativeLogLikelihood(const at::Tensor& residual) const;

  int components() const { return components_; }
  bool initialised() const { return weights_.defined(); }
  // K doubles each (CPU); undefined before the first fit.
  const at::Tensor& weights() const { return weights_; }
  const at::Tensor& variances() const { return variances_; }
  // Restores a saved state (checkpoint resume); throws derain::Error on a shape mismatch.
  void setState(const at::Tensor& weights, const at::Tensor& variances);

 private:
  int components_;
  double variance_floor_;
  at::Tensor weights_;
  at::Tensor variances_;
};

}  // namespace derain::detail
