// LSGAN adversarial loss over a multi-scale discriminator's patch maps.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace derain::detail {

// How the per-scale terms of a multi-scale discriminator combine. The reference code scores G on
// the finest scale only and trains D on the mean of its scales; pix2pixHD (and this project before
// the `finest`/`mean` defaults) sums every scale for both.
enum class AdversarialScales {
  Finest,  // the first (full-resolution) patch map only
  Mean,    // mean over the scales
  Sum      // sum over the scales
};

// Config text of a choice ("finest", "mean", "sum") and back; parse throws derain::Error naming
// the accepted values.
std::string toString(AdversarialScales scales);
AdversarialScales parseAdversarialScales(const std::string& text);

// Per scale: mean squared distance of every patch score to the target (1 for "real", 0 for
// "fake"); the scales combined as `scales` says. patch_maps: finest first, as the discriminator
// returns them.
at::Tensor lsganLoss(const std::vector<at::Tensor>& patch_maps, bool target_real, AdversarialScales scales);

}  // namespace derain::detail
