// A convolution made for inference from another module's weights (rearranged: the upsampling's phase
// convolution, the generator's last convolution with its outputs reordered), kept and remade when
// those weights change (a training step) or the dtype does. Not a registered submodule: model files
// and training see only the source module. A model may be shared by engines in several threads.
#pragma once

#include <functional>
#include <mutex>

#include <c10/core/ScalarType.h>

#include "nets/packed_conv.h"

namespace derain::detail {

class DerivedConv {
 public:
  // The convolution for `source` (the weights it is made from) in `dtype`, made by make() when there
  // is none yet for these weights; make() runs outside inference mode, without gradients.
  PackedConv2d get(const torch::Tensor& source, c10::ScalarType dtype, const std::function<PackedConv2d()>& make);

 private:
  std::mutex mutex_;
  PackedConv2d conv_{nullptr};
  const void* source_ = nullptr;
  int64_t version_ = -1;
  c10::ScalarType dtype_ = c10::ScalarType::Undefined;
};

}  // namespace derain::detail
