#include "nets/derived_conv.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

namespace derain::detail {

PackedConv2d DerivedConv::get(const torch::Tensor& source, c10::ScalarType dtype,
                              const std::function<PackedConv2d()>& make) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!conv_ || source_ != source.data_ptr() || version_ != source._version() || dtype_ != dtype) {
    // Made as normal tensors (not inference ones): PackedConv2d tracks the version of its weights.
    c10::InferenceMode normal_tensors(false);
    at::NoGradGuard no_grad;
    conv_ = make();
    source_ = source.data_ptr();
    version_ = source._version();
    dtype_ = dtype;
  }
  return conv_;  // the caller's copy: another thread may remake conv_ meanwhile
}

}  // namespace derain::detail
