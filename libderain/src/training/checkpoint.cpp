#include "training/checkpoint.h"

#include <map>
#include <sstream>

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
const std::vector<std::string> kAllNetworkPrefixes{"att.", "g_n.", "g_r.", "d_n.", "d_r."};

// LibTorch's Adam keys its per-parameter state by the parameter's TensorImpl address.
std::string adamKey(const at::Tensor& param) { return c10::guts::to_string(param.unsafeGetTensorImpl()); }

std::map<const c10::TensorImpl*, std::string> parameterNames(torch::nn::Module& module) {
  std::map<const c10::TensorImpl*, std::string> names;
  for (auto& item : module.named_parameters()) names[item.value().unsafeGetTensorImpl()] = item.key();
  return names;
}

void storeAdam(torch::optim::Adam& optimizer, torch::nn::Module& module, const std::string& prefix,
               ContainerFile& file) {
  const auto names = parameterNames(module);
  auto& state = optimizer.state();
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) {
      auto it = state.find(adamKey(p));
      if (it == state.end()) continue;  // no step taken yet
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
      const std::string base = prefix + names.at(p.unsafeGetTensorImpl());
      file.tensors.emplace_back(base + ".exp_avg", s.exp_avg().detach().cpu());
      file.tensors.emplace_back(base + ".exp_avg_sq", s.exp_avg_sq().detach().cpu());
      file.tensors.emplace_back(base + ".step", torch::tensor({s.step()}, torch::kInt64));
    }
}

const at::Tensor& need(const ContainerFile& file, const std::string& name, const std::string& path) {
  const at::Tensor* t = file.findTensor(name);
  if (!t) throw ModelFileError(path, "checkpoint lacks tensor '" + name + "'");
  return *t;
}

const std::string& needMeta(const ContainerFile& file, const std::string& key, const std::string& path) {
  const std::string* v = file.findMeta(key);
  if (!v) throw ModelFileError(path, "checkpoint lacks '" + key + "'");
  return *v;
}

void restoreAdam(torch::optim::Adam& optimizer, torch::nn::Module& module, const std::string& prefix,
                 const ContainerFile& file, const std::string& path) {
  const auto names = parameterNames(module);
  auto& state = optimizer.state();
  state.clear();
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) {
      const std::string base = prefix + names.at(p.unsafeGetTensorImpl());
      if (!file.findTensor(base + ".step")) continue;  // saved before its first step
      auto s = std::make_unique<torch::optim::AdamParamState>();
      const at::Tensor& avg = need(file, base + ".exp_avg", path);
      const at::Tensor& avg_sq = need(file, base + ".exp_avg_sq", path);
      if (avg.sizes() != p.sizes() || avg_sq.sizes() != p.sizes())
        throw ModelFileError(path, "optimizer state '" + base + "' does not match its parameter's shape");
      s->step(need(file, base + ".step", path).item<int64_t>());
      s->exp_avg(avg.to(p.device()).clone().contiguous(p.suggest_memory_format()));
      s->exp_avg_sq(avg_sq.to(p.device()).clone().contiguous(p.suggest_memory_format()));
      state[adamKey(p)] = std::move(s);
    }
}

void storePool(const HistoryPool& pool, const std::string& prefix, ContainerFile& file) {
  for (size_t i = 0; i < pool.images().size(); ++i)
    file.tensors.emplace_back(prefix + std::to_string(i), pool.images()[i].detach().cpu());
}

void restorePool(HistoryPool& pool, const std::string& prefix, const ContainerFile& file, c10::Device device) {
  std::vector<at::Tensor> images;
  for (size_t i = 0;; ++i) {
    const at::Tensor* t = file.findTensor(prefix + std::to_string(i));
    if (!t) break;
    images.push_back(t->to(device).clone());
  }
  pool.setImages(std::move(images));
}
}  // namespace

void saveCheckpoint(Trainer& trainer, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& extra_meta,
                    const std::vector<std::pair<std::string, at::Tensor>>& extra_tensors) {
  ContainerFile file;
  file.kind = FileKind::Checkpoint;
  file.setMeta("config", trainer.config().toText());
  file.setMeta("training", trainer.options().toText());
  file.setMeta("iteration", std::to_string(trainer.iteration()));
  std::ostringstream rng;
  rng << trainer.poolRng();
  file.setMeta("pool_rng", rng.str());
  file.setMeta("gmm.initialised", trainer.gmm().initialised() ? "1" : "0");
  for (const auto& [key, value] : extra_meta) file.setMeta(key, value);

  storeParameters(*trainer.model(), file, kAllNetworkPrefixes);
  storeAdam(trainer.generatorOptimizer(), *trainer.model(), "opt_g.", file);
  storeAdam(trainer.discriminatorOptimizer(), *trainer.model(), "opt_d.", file);
  storePool(trainer.poolClean(), "pool_n.", file);
  storePool(trainer.poolRainy(), "pool_r.", file);
  if (trainer.gmm().initialised()) {
    file.tensors.emplace_back("gmm.weights", trainer.gmm().weights());
    file.tensors.emplace_back("gmm.variances", trainer.gmm().variances());
  }
  file.tensors.emplace_back("prior_rng", trainer.priorGenerator().get_state());
  for (const auto& [name, tensor] : extra_tensors) file.tensors.emplace_back(name, tensor.detach().cpu());
  writeContainer(path, file);
}

namespace {
constexpr double kLegacyLeakySlope = 0.2;  // the discriminators' only slope before discriminator.leaky_slope
}  // namespace

CheckpointInfo readCheckpoint(const std::string& path) {
  CheckpointInfo info;
  info.file = readContainer(path);
  if (info.file.kind != FileKind::Checkpoint)
    throw ModelFileError(path, "is an inference model file, not a training checkpoint");
  info.config = configOf(info.file, path);
  // A checkpoint written before the scale, prior and slope settings existed was trained with what was
  // then the only behaviour (both adversarial terms summed over the scales, the prior on, slope 0.2):
  // a resume keeps training it that way instead of switching to today's defaults.
  if (needMeta(info.file, "config", path).find("discriminator.leaky_slope") == std::string::npos &&
      info.config.discriminator.leaky_slope != kLegacyLeakySlope) {
    info.config.discriminator.leaky_slope = kLegacyLeakySlope;
    info.config.preset = "custom";
  }
  const std::string& training_text = needMeta(info.file, "training", path);
  const std::string legacy_training = training_text.find("train.adversarial.g_scales") == std::string::npos
      ? "train.adversarial.g_scales = sum\ntrain.adversarial.d_scales = sum\ntrain.attention.prior = true\n"
      : "";
  try {
    info.options.applyText(legacy_training + training_text);
    info.options.validate(info.config);
  } catch (const ModelFileError&) {
    throw;
  } catch (const Error& e) {
    throw ModelFileError(path, std::string("invalid training options: ") + e.what());
  }
  try {
    info.iteration = std::stoll(needMeta(info.file, "iteration", path));
  } catch (const std::logic_error&) {
    throw ModelFileError(path, "checkpoint has a malformed iteration count");
  }
  return info;
}

void restoreCheckpoint(Trainer& trainer, const CheckpointInfo& info, const std::string& path) {
  const ContainerFile& file = info.file;
  loadParameters(*trainer.model(), file, path, kAllNetworkPrefixes);
  restoreAdam(trainer.generatorOptimizer(), *trainer.model(), "opt_g.", file, path);
  restoreAdam(trainer.discriminatorOptimizer(), *trainer.model(), "opt_d.", file, path);
  try {
    restorePool(trainer.poolClean(), "pool_n.", file, trainer.device());
    restorePool(trainer.poolRainy(), "pool_r.", file, trainer.device());
  } catch (const Error& e) {
    throw ModelFileError(path, e.what());
  }
  std::istringstream rng(needMeta(file, "pool_rng", path));
  rng >> trainer.poolRng();
  if (rng.fail()) throw ModelFileError(path, "checkpoint has a malformed pool_rng state");
  if (needMeta(file, "gmm.initialised", path) == "1") {
    try {
      trainer.gmm().setState(need(file, "gmm.weights", path), need(file, "gmm.variances", path));
    } catch (const ModelFileError&) {
      throw;
    } catch (const Error& e) {
      throw ModelFileError(path, e.what());
    }
  }
  trainer.priorGenerator().set_state(need(file, "prior_rng", path));
  trainer.setIteration(info.iteration);
}

void exportInferenceModel(Trainer& trainer, const std::string& path) {
  ContainerFile file;
  file.kind = FileKind::Model;
  file.setMeta("config", trainer.config().toText());
  file.setMeta(kRecipeMeta, trainer.options().recipeText(trainer.config(), trainer.perceptualEnabled()));
  storeParameters(*trainer.model(), file, kInferencePrefixes);
  writeContainer(path, file);
}

}  // namespace derain::detail
