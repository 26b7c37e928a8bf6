#include "losses/adversarial_loss.h"

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

std::string toString(AdversarialScales scales) {
  switch (scales) {
    case AdversarialScales::Finest: return "finest";
    case AdversarialScales::Mean: return "mean";
    case AdversarialScales::Sum: return "sum";
  }
  throw Error("adversarial scales: bad value");
}

AdversarialScales parseAdversarialScales(const std::string& text) {
  if (text == "finest") return AdversarialScales::Finest;
  if (text == "mean") return AdversarialScales::Mean;
  if (text == "sum") return AdversarialScales::Sum;
  throw Error("adversarial scales must be finest, mean or sum, got '" + text + "'");
}

at::Tensor lsganLoss(const std::vector<at::Tensor>& patch_maps, bool target_real, AdversarialScales scales) {
  if (patch_maps.empty()) throw Error("lsganLoss: no discriminator outputs");
  const double target = target_real ? 1.0 : 0.0;
  if (scales == AdversarialScales::Finest) return (patch_maps.front().to(torch::kFloat32) - target).pow(2).mean();
  at::Tensor total;
  for (const auto& map : patch_maps) {
    // In fp32 whatever the forward's precision (bf16 autocast leaves the scores in bf16, whose sums
    // would round the loss to 8 bits of mantissa); a no-op for fp32 scores.
    at::Tensor term = (map.to(torch::kFloat32) - target).pow(2).mean();
    total = total.defined() ? total + term : term;
  }
  if (scales == AdversarialScales::Mean) total = total / static_cast<double>(patch_maps.size());
  return total;
}

}  // namespace derain::detail
