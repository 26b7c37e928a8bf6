#include "training/trainer.h"

#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "denormals.h"
#include "derain/error.hpp"
#include "losses/adversarial_loss.h"
#include "losses/attention_loss.h"
#include "losses/cycle_loss.h"
#include "losses/reconstruction_loss.h"
#include "training/weight_init.h"

namespace derain::detail {

namespace {
// Distinct streams derived from the run's seed.
constexpr uint64_t kPoolStream = 0x504f4f4cULL;
constexpr uint64_t kPriorStream = 0x5052494fULL;

std::vector<at::Tensor> parametersWithPrefixes(torch::nn::Module& module, const std::vector<std::string>& prefixes) {
  std::vector<at::Tensor> out;
  for (auto& item : module.named_parameters())
    for (const auto& prefix : prefixes)
      if (item.key().rfind(prefix, 0) == 0) {
        out.push_back(item.value());
        break;
      }
  return out;
}

std::unique_ptr<torch::optim::Adam> makeAdam(std::vector<at::Tensor> params, const TrainingOptions& o) {
  return std::make_unique<torch::optim::Adam>(
      std::move(params),
      torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(o.weight_decay));
}

void setLearningRate(torch::optim::Adam& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

at::Tensor firstOf(const at::Tensor& batch) { return batch.narrow(0, 0, 1).detach().to(torch::kFloat32).clone(); }

// A named phase of a step for profilers (derain-train-bench --profile): a LibTorch RecordFunction
// range, which costs nothing while no profiler listens. Ends at end() or when it goes out of scope.
class StepPhase {
 public:
  explicit StepPhase(const char* name) : range_(at::RecordScope::USER_SCOPE) {
    if (range_.isActive()) range_.before(name);
  }
  void end() { range_.end(); }

 private:
  at::RecordFunction range_;
};

// Forward passes in bf16 for the scope's lifetime (TrainingOptions::precision): LibTorch's autocast,
// which runs the convolutions on bf16 copies of their fp32 inputs and weights. Its cache of weight
// copies is cleared at the end, as Python's torch.autocast does: the optimiser step that follows
// changes the weights in place.
class Bf16Forward {
 public:
  Bf16Forward(bool enabled, c10::Device device) : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
    was_enabled_ = cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    was_dtype_ = cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
    at::autocast::increment_nesting();
  }
  ~Bf16Forward() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
  }
  Bf16Forward(const Bf16Forward&) = delete;
  Bf16Forward& operator=(const Bf16Forward&) = delete;

 private:
  bool enabled_, cuda_, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};
}  // namespace

Trainer::Trainer(const ModelConfig& config, const TrainingOptions& options, c10::Device device,
                 VGG16Features perceptual)
    : config_(config), options_(options), device_(device), gmm_(options.gmm_components, options.gmm_variance_floor),
      pool_n_(options.pool_size), pool_r_(options.pool_size), pool_rng_(options.seed ^ kPoolStream),
      prior_gen_(at::make_generator<at::CPUGeneratorImpl>(options.seed ^ kPriorStream)) {
  options_.validate(config_);
  model_ = DerainCycleGAN(config_, /*with_discriminators=*/true);
  initTrainingWeights(*model_, parseWeightInit(options_.init), options_.seed);
  model_->to(device_);
  model_->train();
  if (!perceptual.is_empty()) {
    perceptual->to(device_);
    perceptual_.emplace(perceptual);
  }
  opt_g_ = makeAdam(parametersWithPrefixes(*model_, {"att.", "g_n.", "g_r."}), options_);
  opt_d_ = makeAdam(parametersWithPrefixes(*model_, {"d_n.", "d_r."}), options_);
}

namespace {
std::vector<at::Tensor> parametersOf(torch::optim::Adam& optimizer) {
  std::vector<at::Tensor> params;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}
}  // namespace

void Trainer::setDataParallel(DataParallelHooks hooks) {
  dp_ = std::move(hooks);
  g_average_.reset();
  d_average_.reset();
  if (dp_.averager) {
    g_average_ = dp_.averager(parametersOf(*opt_g_));
    d_average_ = dp_.averager(parametersOf(*opt_d_));
  }
  if (dp_.rank > 0) pool_rng_.seed((options_.seed ^ kPoolStream) + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(dp_.rank));
}

void Trainer::setDiscriminatorsTrainable(bool trainable) {
  for (auto& p : model_->d_n->parameters()) p.set_requires_grad(trainable);
  for (auto& p : model_->d_r->parameters()) p.set_requires_grad(trainable);
}

StepLosses Trainer::step(const at::Tensor& rainy, const at::Tensor& clean, double lr, const at::Tensor& synthetic,
                         const at::Tensor& synthetic_clean) {
  // One scope for both halves (the nested ones inside are free).
  std::optional<FlushDenormalsScope> flush;
  if (flush_denormals_) flush.emplace(at::get_num_threads());
  StepLosses losses = generatorStep(rainy, clean, lr, synthetic, synthetic_clean);
  discriminatorStep(losses, lr);
  ++iteration_;
  return losses;
}

StepLosses Trainer::generatorStep(const at::Tensor& rainy, const at::Tensor& clean, double lr,
                                  const at::Tensor& synthetic, const at::Tensor& synthetic_clean) {
  std::optional<FlushDenormalsScope> flush;
  if (flush_denormals_) flush.emplace(at::get_num_threads());
  if (rainy.dim() != 4 || rainy.size(1) != 3 || rainy.sizes() != clean.sizes())
    throw Error("trainer: rainy and clean batches must both be B x 3 x H x W of the same size");
  const LossWeights& w = options_.weights;
  if (w.synthetic > 0 && (!synthetic.defined() || synthetic.dim() != 4 || synthetic.size(1) != 3))
    throw Error("trainer: the synthetic loss needs a B x 3 x H x W batch of rained images");
  if (w.synthetic > 0 && (synthetic_clean.defined() ? synthetic_clean.sizes() : clean.sizes()) != synthetic.sizes())
    throw Error("trainer: the synthetic loss needs its rained batch and its clean target of the same size");
  const at::Tensor r = rainy.to(device_, torch::kFloat32), n = clean.to(device_, torch::kFloat32);
  DerainCycleGANImpl& m = *model_;

  // D only scores G's output here: its parameters stay out of this backward pass.
  setDiscriminatorsTrainable(false);
  opt_g_->zero_grad();

  std::optional<Bf16Forward> bf16;
  bf16.emplace(options_.precision == "bf16", device_);
  // Forward translations, then the two cycle branches back (paper eqs. 4 and 5).
  StepPhase nets_phase("derain::g_networks");
  const at::Tensor att_r = m.att->forward(r);
  const at::Tensor n_r = m.g_n->forward(r, att_r);
  const at::Tensor att_n = m.att->forward(n);
  const at::Tensor r_n = m.g_r->forward(n, att_n);
  const at::Tensor r_cycled = m.g_r->forward(n_r, m.att->forward(n_r));
  const at::Tensor n_cycled = m.g_n->forward(r_n, m.att->forward(r_n));
  nets_phase.end();

  StepPhase adversarial_phase("derain::g_discriminators");
  const AdversarialScales g_scales = parseAdversarialScales(options_.g_adversarial_scales);
  const at::Tensor adversarial =
      lsganLoss(m.d_n->forward(n_r), true, g_scales) + lsganLoss(m.d_r->forward(r_n), true, g_scales);
  adversarial_phase.end();
  StepPhase losses_phase("derain::g_losses");
  at::Tensor attention_r = torch::zeros({}, r.options());
  if (options_.attention_prior) {
    at::Tensor prior;
    if (dp_.world_size > 1) {
      // Every rank draws the global batch's prior (so the streams stay in step) and takes its slice.
      std::vector<int64_t> global(att_r.sizes().begin(), att_r.sizes().end());
      global[0] *= dp_.world_size;
      prior = attentionPrior(global, prior_gen_).narrow(0, dp_.rank * att_r.size(0), att_r.size(0)).to(device_);
    } else {
      prior = attentionPrior(att_r.sizes(), prior_gen_).to(device_);
    }
    attention_r = rainyAttentionLoss(att_r, prior);
  }
  const at::Tensor attention_n = cleanAttentionLoss(att_n);
  const at::Tensor cycle = cycleLoss(r, r_cycled, n, n_cycled);
  const at::Tensor perceptual = perceptual_ ? (*perceptual_)(n_r, r) : torch::zeros({}, r.options());
  const at::Tensor rain_layer = r - n_r;
  losses_phase.end();
  // At weight 0 the term adds nothing to the gradients: fit and evaluate it only when it is logged.
  const bool gmm_needed = w.gmm > 0 || (options_.gmm_log_every > 0 && iteration_ % options_.gmm_log_every == 0);
  at::Tensor gmm;
  if (gmm_needed) {
    StepPhase gmm_phase("derain::gmm_fit");
    if (dp_.sum)
      gmm_.fit(rain_layer.detach(), options_.gmm_em_iterations, dp_.sum);
    else
      gmm_.fit(rain_layer.detach(), options_.gmm_em_iterations);
    gmm_phase.end();
    gmm = gmm_.negativeLogLikelihood(rain_layer);
  }
  StepPhase losses_phase2("derain::g_losses");
  const at::Tensor reconstruction = reconstructionLoss(att_r, n_r, r);
  // The two terms beyond the paper cost extra generator passes, so they run only when weighted.
  // Squared errors, not L1: a generator that starts as the identity is exactly right on the ~95% of
  // pixels without streaks, and L1's constant pull towards zero there outweighs the sparse streak
  // pixels, so an L1 term keeps G_N at the identity (measured: no change in 500 iterations).
  at::Tensor identity = torch::zeros({}, r.options()), synthetic_pair = torch::zeros({}, r.options());
  if (w.identity > 0)
    identity = torch::mse_loss(m.g_n->forward(n, att_n), n) + torch::mse_loss(m.g_r->forward(r, att_r), r);
  if (w.synthetic > 0) {
    const at::Tensor s = synthetic.to(device_, torch::kFloat32);
    const at::Tensor target = synthetic_clean.defined() ? synthetic_clean.to(device_, torch::kFloat32) : n;
    synthetic_pair = torch::mse_loss(m.g_n->forward(s, m.att->forward(s)), target);
  }

  at::Tensor total = w.adversarial * adversarial + w.attention * (attention_r + attention_n) + w.cycle * cycle;
  if (gmm_needed) total = total + w.gmm * gmm;
  total = total + w.reconstruction * reconstruction;
  if (perceptual_) total = total + w.perceptual * perceptual;
  if (w.identity > 0) total = total + w.identity * identity;
  if (w.synthetic > 0) total = total + w.synthetic * synthetic_pair;
  losses_phase2.end();
  bf16.reset();
  StepPhase backward_phase("derain::g_backward");
  if (g_average_) g_average_->arm();
  total.backward();
  if (g_average_) g_average_->finish();
  backward_phase.end();
  StepPhase optimizer_phase("derain::g_optimizer");
  setLearningRate(*opt_g_, lr);
  opt_g_->step();
  optimizer_phase.end();
  setDiscriminatorsTrainable(true);

  // (fp32 whatever the forward's precision: the pools and sample grids hold fp32 images.)
  fake_clean_ = n_r.detach().to(torch::kFloat32);
  fake_rainy_ = r_n.detach().to(torch::kFloat32);
  real_rainy_ = r;
  real_clean_ = n;
  last_ = StepImages{firstOf(r), firstOf(att_r), firstOf(n_r), firstOf(n), firstOf(att_n), firstOf(r_n)};

  StepLosses out;
  out.adversarial = adversarial.item<double>();
  out.attention_r = attention_r.item<double>();
  out.attention_n = attention_n.item<double>();
  out.cycle = cycle.item<double>();
  out.perceptual = perceptual.item<double>();
  out.gmm = gmm_needed ? gmm.item<double>() : std::numeric_limits<double>::quiet_NaN();
  out.reconstruction = reconstruction.item<double>();
  out.identity = identity.item<double>();
  out.synthetic = synthetic_pair.item<double>();
  out.generator = total.item<double>();
  return out;
}

void Trainer::discriminatorStep(StepLosses& losses, double lr) {
  if (!fake_clean_.defined()) throw Error("trainer: discriminatorStep needs a generatorStep first");
  std::optional<FlushDenormalsScope> flush;
  if (flush_denormals_) flush.emplace(at::get_num_threads());
  DerainCycleGANImpl& m = *model_;
  opt_d_->zero_grad();
  std::optional<Bf16Forward> bf16;
  bf16.emplace(options_.precision == "bf16", device_);
  StepPhase forward_phase("derain::d_forward");
  const at::Tensor fake_n = pool_n_.query(fake_clean_, pool_rng_);
  const at::Tensor fake_r = pool_r_.query(fake_rainy_, pool_rng_);
  const AdversarialScales d_scales = parseAdversarialScales(options_.d_adversarial_scales);
  const at::Tensor d_n = 0.5 * (lsganLoss(m.d_n->forward(real_clean_), true, d_scales) +
                                lsganLoss(m.d_n->forward(fake_n), false, d_scales));
  const at::Tensor d_r = 0.5 * (lsganLoss(m.d_r->forward(real_rainy_), true, d_scales) +
                                lsganLoss(m.d_r->forward(fake_r), false, d_scales));
  forward_phase.end();
  bf16.reset();
  StepPhase backward_phase("derain::d_backward");
  if (d_average_) d_average_->arm();
  (d_n + d_r).backward();
  if (d_average_) d_average_->finish();
  backward_phase.end();
  StepPhase optimizer_phase("derain::d_optimizer");
  setLearningRate(*opt_d_, lr);
  opt_d_->step();
  optimizer_phase.end();
  losses.d_n = d_n.item<double>();
  losses.d_r = d_r.item<double>();
  fake_clean_ = fake_rainy_ = real_rainy_ = real_clean_ = at::Tensor();
}

}  // namespace derain::detail
