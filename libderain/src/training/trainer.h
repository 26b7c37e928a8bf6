// One DerainCycleGAN training iteration: the G step (both cycle branches, every generator-side loss)
// then the D step (LSGAN on real images vs. the history pools). Holds everything a run's future
// depends on: networks, Adam states, pools, GMM and random streams; checkpoint.h saves and
// restores all of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/optim/adam.h>

#include "derain/config.hpp"
#include "losses/gmm_loss.h"
#include "losses/perceptual_loss.h"
#include "networks.h"
#include "training/gradient_averager.h"
#include "training/history_pool.h"
#include "training/step_losses.h"
#include "training/training_options.h"

namespace derain::detail {

// The images of the last G step (first batch element's batch, detached), for sample grids.
struct StepImages {
  at::Tensor rainy, att_rainy, derained;   // r, Att(r), n_r
  at::Tensor clean, att_clean, rainmade;   // n, Att(n), r_n
};

// Data-parallel wiring (training/distributed.h fills it in): this rank's place and the collectives
// the steps need. Empty functions = one process.
struct DataParallelHooks {
  int rank = 0, world_size = 1;
  // In place: the sum over the ranks of a CPU double tensor (GMM sufficient statistics).
  std::function<void(at::Tensor&)> sum;
  // An averager for one optimiser's parameters: the mean over the ranks of their gradients, all-reduced
  // while backward runs (gradient_averager.h).
  std::function<std::unique_ptr<OverlappedAverager>(std::vector<at::Tensor> params)> averager;
};

class Trainer {
 public:
  // A fresh model initialised as options.init says (weight_init.h: paper N(0, 0.02) or He) from
  // options.seed, on `device`. `perceptual` is the
  // loaded VGG16 features module, or null to train without the perceptual loss.
  Trainer(const ModelConfig& config, const TrainingOptions& options, c10::Device device,
          VGG16Features perceptual = nullptr);

  // One iteration at learning rate `lr`: generatorStep then discriminatorStep. rainy, clean:
  // B x 3 x crop x crop in [-1, 1] (any device; moved to the trainer's). `synthetic`: `clean` with
  // procedural rain drawn over it, or rainy images of pairs from disk, needed when the synthetic loss
  // weight is > 0 (ignored otherwise). `synthetic_clean`: the clean partners of pairs from disk, the
  // term's target; undefined: the target is `clean` (procedural rain was drawn over it).
  StepLosses step(const at::Tensor& rainy, const at::Tensor& clean, double lr, const at::Tensor& synthetic = {},
                  const at::Tensor& synthetic_clean = {});

  // The halves of step(), public so that tests can check what each one updates.
  StepLosses generatorStep(const at::Tensor& rainy, const at::Tensor& clean, double lr,
                           const at::Tensor& synthetic = {}, const at::Tensor& synthetic_clean = {});
  // Uses the images of the preceding generatorStep; adds d_n / d_r to `losses`.
  void discriminatorStep(StepLosses& losses, double lr);

  DerainCycleGAN& model() { return model_; }
  const ModelConfig& config() const { return config_; }
  const TrainingOptions& options() const { return options_; }
  c10::Device device() const { return device_; }
  bool perceptualEnabled() const { return perceptual_.has_value(); }
  const StepImages& lastImages() const { return last_; }

  // Makes the steps data-parallel: gradients averaged across ranks before each optimiser step, the
  // GMM fitted on every rank's residuals, the attention prior drawn for the global batch (this
  // rank's slice), so world_size ranks x batch B step like one process with batch world_size x B.
  // History pools stay per rank: a rank > 0 reseeds its pool stream from (seed, rank).
  void setDataParallel(DataParallelHooks hooks);
  const DataParallelHooks& dataParallel() const { return dp_; }

  // Whether the steps flush denormal floats to zero (inference/denormals.h), on by default: Adam's
  // squared-gradient averages and a trained network's small activations and gradients are full of
  // them, and each costs the CPU 10-100x a normal operation. Off only to measure what they cost.
  void setFlushDenormals(bool flush) { flush_denormals_ = flush; }
  bool flushDenormals() const { return flush_denormals_; }

  // Finished iterations (what the next step() will be, 0-based).
  int64_t iteration() const { return iteration_; }
  void setIteration(int64_t iteration) { iteration_ = iteration; }

  // State that checkpoint.cpp saves and restores.
  torch::optim::Adam& generatorOptimizer() { return *opt_g_; }
  torch::optim::Adam& discriminatorOptimizer() { return *opt_d_; }
  HistoryPool& poolClean() { return pool_n_; }   // fakes of the clean domain (n_r), for D_N
  HistoryPool& poolRainy() { return pool_r_; }   // fakes of the rainy domain (r_n), for D_R
  std::mt19937_64& poolRng() { return pool_rng_; }
  at::Generator& priorGenerator() { return prior_gen_; }
  ZeroMeanGMM& gmm() { return gmm_; }

 private:
  void setDiscriminatorsTrainable(bool trainable);

  ModelConfig config_;
  TrainingOptions options_;
  c10::Device device_;
  DerainCycleGAN model_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g_, opt_d_;
  std::optional<PerceptualLoss> perceptual_;
  ZeroMeanGMM gmm_;
  HistoryPool pool_n_, pool_r_;
  std::mt19937_64 pool_rng_;
  at::Generator prior_gen_;
  StepImages last_;
  at::Tensor fake_clean_, fake_rainy_;  // n_r and r_n of the last G step, detached, for the D step
  at::Tensor real_rainy_, real_clean_;
  int64_t iteration_ = 0;
  DataParallelHooks dp_;
  std::unique_ptr<OverlappedAverager> g_average_, d_average_;  // data-parallel only
  bool flush_denormals_ = true;
};

}  // namespace derain::detail
