#include "losses/adversarial_loss.h"

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

at::Tensor lsganLoss(const std::vector<at::Tensor>& patch_maps, bool target_real) {
  if (patch_maps.empty()) throw Error("lsganLoss: no discriminator outputs");
  const double target = target_real ? 1.0 : 0.0;
  at::Tensor total;
  for (const auto& scores : patch_maps) {
    // In fp32 whatever the forward's precision (bf16 autocast leaves the scores in bf16, whose sums
    // would round the loss to 8 bits of mantissa); a no-op for fp32 scores.
    at::Tensor term = (scores.to(torch::kFloat32) - target).pow(2).mean();
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace derain::detail
