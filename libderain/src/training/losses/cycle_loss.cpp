#include "losses/cycle_loss.h"

#include <torch/torch.h>

namespace derain::detail {

at::Tensor cycleLoss(const at::Tensor& rainy, const at::Tensor& rainy_cycled, const at::Tensor& clean,
                     const at::Tensor& clean_cycled) {
  return (rainy - rainy_cycled).abs().mean() + (clean - clean_cycled).abs().mean();
}

}  // namespace derain::detail
