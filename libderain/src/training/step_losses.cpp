#include "training/step_losses.h"

namespace derain::detail {

const std::array<const char*, StepLosses::kCount>& StepLosses::names() {
  static const std::array<const char*, kCount> kNames = {
      "adversarial", "attention_r", "attention_n", "cycle", "perceptual",
      "gmm",         "reconstruction", "identity", "synthetic", "generator", "d_n", "d_r"};
  return kNames;
}

std::array<double, StepLosses::kCount> StepLosses::values() const {
  return {adversarial, attention_r, attention_n, cycle, perceptual, gmm, reconstruction, identity, synthetic, generator, d_n, d_r};
}

}  // namespace derain::detail
