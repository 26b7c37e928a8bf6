// A Conv2d whose weights are packed for oneDNN once, not on every call. LibTorch's CPU convolution
// re-orders (packs) the weights into oneDNN's blocked layout on every forward; a oneDNN trace of the
// lite model at 640x360 showed those re-orders taking longer than the convolutions. In inference
// (c10::InferenceMode) on the CPU in fp32 or bf16, this module packs them once per input size through
// LibTorch's own mkldnn_prepacked ops (the same oneDNN convolution, bit-identical output) and keeps
// the pack until the weights change; anywhere else (training, CUDA) it is a plain Conv2d.
// forwardRelu() is the convolution followed by a ReLU, fused into the packed oneDNN call (oneDNN's
// post-op: bit-identical to a separate ReLU, without the extra pass over the activations).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/nn/modules/conv.h>

namespace derain::detail {

class PackedConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor forwardRelu(const torch::Tensor& input);
  // Packs held now (one per input size seen in inference): for tests and diagnostics.
  size_t packCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    return packs_.size();
  }

 private:
  struct Pack {
    std::vector<int64_t> input_sizes;
    const void* weight_data = nullptr;
    int64_t weight_version = -1;
    bool relu = false;
    c10::IValue context;  // mkldnn ConvOpContext
  };
  bool packable(const torch::Tensor& input) const;
  torch::Tensor runPacked(const torch::Tensor& input, bool relu);
  std::mutex mutex_;  // a model may be shared by engines in several threads
  std::vector<Pack> packs_;
};
TORCH_MODULE(PackedConv2d);

}  // namespace derain::detail
