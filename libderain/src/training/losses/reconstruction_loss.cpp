#include "losses/reconstruction_loss.h"

#include <torch/torch.h>

namespace derain::detail {

at::Tensor reconstructionLoss(const at::Tensor& att_r, const at::Tensor& derained, const at::Tensor& rainy) {
  return ((att_r + derained) - rainy).pow(2).mean();
}

}  // namespace derain::detail
