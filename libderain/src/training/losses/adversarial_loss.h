// LSGAN adversarial loss over a multi-scale discriminator's patch maps.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace derain::detail {

// Mean squared distance of every patch score to the target (1 for "real", 0 for "fake"), summed
// over the discriminator's scales (pix2pixHD's convention, which the reference code follows).
at::Tensor lsganLoss(const std::vector<at::Tensor>& patch_maps, bool target_real);

}  // namespace derain::detail
