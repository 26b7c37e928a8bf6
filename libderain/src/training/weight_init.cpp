#include "training/weight_init.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

WeightInit parseWeightInit(const std::string& name) {
  if (name == "paper") return WeightInit::Paper;
  if (name == "he") return WeightInit::He;
  throw Error("unknown weight initialisation '" + name + "' (expected paper or he)");
}

std::string toString(WeightInit init) { return init == WeightInit::He ? "he" : "paper"; }

namespace {
// Fan-in as torch computes it: dimension 1 times the kernel area (also for transposed convs).
double fanIn(const at::Tensor& weight) {
  double fan = static_cast<double>(weight.size(1));
  for (int64_t d = 2; d < weight.dim(); ++d) fan *= static_cast<double>(weight.size(d));
  return fan;
}

// The last weight registered in a generator is its output conv (decode_full's last layer).
void zeroOutputConv(torch::nn::Module& generator) {
  at::Tensor last;
  for (auto& p : generator.parameters())
    if (p.dim() >= 2) last = p;
  if (last.defined()) last.zero_();
}
}  // namespace

void initTrainingWeights(DerainCycleGANImpl& model, WeightInit init, uint64_t seed) {
  if (init == WeightInit::Paper) {
    initWeights(model, seed);
    return;
  }
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : model.named_parameters()) {
    auto& p = item.value();
    auto fresh = torch::zeros(p.sizes(), torch::kFloat32);
    if (p.dim() >= 2) fresh.normal_(0.0, std::sqrt(2.0 / fanIn(p)), generator);
    p.copy_(fresh);
  }
  if (model.config().generator.residual) {
    zeroOutputConv(*model.g_n);
    zeroOutputConv(*model.g_r);
  }
}

}  // namespace derain::detail
