#include "losses/adversarial_loss.h"

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

at::Tensor lsganLoss(const std::vector<at::Tensor>& patch_maps, bool target_real) {
  if (patch_maps.empty()) throw Error("lsganLoss: no discriminator outputs");
  const double target = target_real ? 1.0 : 0.0;
  at::Tensor total;
  for (const auto& scores : patch_maps) {
    at::Tensor term = (scores - target).pow(2).mean();
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace derain::detail
