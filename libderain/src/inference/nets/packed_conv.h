// A Conv2d whose weights are packed for oneDNN once, not on every call. LibTorch's CPU convolution
// re-orders (packs) the weights into oneDNN's blocked layout on every forward; a oneDNN trace of the
// lite model at 640x360 showed those re-orders taking longer than the convolutions. In inference
// (c10::InferenceMode) on the CPU in fp32 or bf16, this module packs them once per input size through
// LibTorch's own mkldnn_prepacked ops (the same oneDNN convolution, bit-identical output) and keeps
// the pack until the weights change; anywhere else (training, CUDA) it is a plain Conv2d.
// A 3x3 convolution with one output channel (stride 1, padding 1, channels_last input) runs in
// forward() as dot products instead (one_output_conv.h: oneDNN pads the channel to 16), where the
// CPU has AVX-512; within float rounding of oneDNN's sums, not bit for bit.
// forwardRelu() is the convolution followed by a ReLU, fused into the packed oneDNN call (oneDNN's
// post-op: bit-identical to a separate ReLU, without the extra pass over the activations).
// forwardAddRelu() is a residual block's end, ReLU(conv(x) [ReLU] + residual), in the same store.
// Where the build has oneDNN's own API (onednn_conv.h) every pack goes through it, which fuses the
// residual too; otherwise through LibTorch's prepacked ops, with the residual added in a second pass.
// Under an Int8Scope (int8_scope.h), bf16 packs through oneDNN's API run in 8-bit integers where the
// CPU does that fast (OneDnnConv::int8Available); the one-output form stays bf16.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/nn/modules/conv.h>

#include "nets/dilated_as_batch.h"
#include "nets/onednn_conv.h"

namespace derain::detail {

class PackedConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor forwardRelu(const torch::Tensor& input);
  // ReLU(conv(input) + residual), with a ReLU on the convolution first where relu_first is set;
  // residual has the output's shape. Equal, bit for bit in fp32, to the three steps done apart.
  torch::Tensor forwardAddRelu(const torch::Tensor& input, const torch::Tensor& residual, bool relu_first);
  // The same, free to write the result over residual's memory and return it (the caller gives residual
  // up): the fastest form, where oneDNN reads the residual from its destination.
  torch::Tensor forwardAddReluConsuming(const torch::Tensor& input, torch::Tensor residual, bool relu_first);
  // The convolution a band of output rows at a time, each band handed to consume(band, first_row)
  // while it is still in cache (band: [1, out, rows, width], channels_last, valid during the call):
  // a consumer of the whole output then never reads it back from memory. Each band is the
  // convolution's output bit for bit. Runs only in inference, through oneDNN's API, for one image, a
  // stride-1 undilated convolution padded to keep the size, channels_last input; returns false
  // (nothing run) anywhere else.
  bool forwardInBands(const torch::Tensor& input, int64_t band_rows,
                      const std::function<void(const torch::Tensor& band, int64_t first_row)>& consume);
  // True where forward() on `input` takes a packed path (inference on the CPU, fp32 or bf16) for a 3x3
  // stride-1 undilated ungrouped convolution padded by 1, with channels_last input: the problems the
  // special forms (one_output_conv.h, width_pair_conv.h) are made for.
  bool packedSame3x3(const torch::Tensor& input) const;
  // Packs held now (one per input size seen in inference): for tests and diagnostics.
  size_t packCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    return packs_.size();
  }
  // Of those, the packs that run a dilated convolution as its sub-images (dilated_as_batch.h).
  size_t subImagePackCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t count = 0;
    for (const auto& p : packs_) count += p.sub_images != nullptr;
    return count;
  }

 private:
  struct Pack {
    std::vector<int64_t> input_sizes;
    bool channels_last = false;
    const void* weight_data = nullptr;
    int64_t weight_version = -1;
    ConvEpilogue epilogue;
    ConvType type = ConvType::F32;  // what the pack was made for: int8 and bf16 packs are kept apart
    std::shared_ptr<OneDnnConv> direct;  // oneDNN's own API; null: LibTorch's prepacked op
    // A dilated convolution that oneDNN has no brgemm kernel for, as the undilated one over its
    // sub-images (dilated_as_batch.h, the grid of subImageGrid()); null: `direct` runs it as it is.
    std::shared_ptr<OneDnnConv> sub_images;
    c10::IValue context;                 // that op's mkldnn ConvOpContext
  };
  struct BandPack {  // forwardInBands' convolutions: one per band shape (input rows, padding)
    std::vector<int64_t> key;  // input sizes, band input rows, top and bottom padding, ConvType
    const void* weight_data = nullptr;
    int64_t weight_version = -1;
    std::shared_ptr<OneDnnConv> conv;
  };
  struct OneOutputWeights {  // runOneOutput's weights as the kernel reads them, for one weight version
    const void* weight_data = nullptr;
    int64_t weight_version = -1, bias_version = -1;
    std::shared_ptr<const std::vector<float>> taps;  // [3][3][in_channels]; shared with running calls
    float bias = 0.0f;
  };
  bool packable(const torch::Tensor& input) const;
  bool oneOutputApplies(const torch::Tensor& input) const;  // packable(input) holds
  torch::Tensor runOneOutput(const torch::Tensor& input);
  Pack& findPack(const torch::Tensor& input, ConvEpilogue epilogue);  // mutex_ held
  ConvGeometry geometry(const torch::Tensor& input) const;
  // The arithmetic of a pack for data of this dtype now: F32, BF16, or Int8 for bf16 data under an
  // Int8Scope where OneDnnConv::int8Available().
  static ConvType convType(torch::ScalarType dtype);
  // This convolution's weights and bias packed by oneDNN for the problem g in `type`; null where
  // this build has no oneDNN API, the convolution is grouped, or oneDNN refuses the problem.
  std::shared_ptr<OneDnnConv> makeDirect(const ConvGeometry& g, ConvType type, ActivationLayout layout,
                                         ConvEpilogue epilogue) const;
  // The sub-image form of the dilated problem g (see Pack::sub_images), or null where it does not
  // apply or would not reach a brgemm kernel either; `dilated` is the problem's own convolution.
  std::shared_ptr<OneDnnConv> subImageConv(const ConvGeometry& g, ConvType type, ConvEpilogue epilogue,
                                           const OneDnnConv& dilated) const;
  static SubImageGrid subImageGrid(const ConvGeometry& g) { return {g.dilation_h, g.height, g.width}; }
  std::shared_ptr<OneDnnConv> bandConv(const torch::Tensor& input, int64_t input_rows, int64_t pad_top,
                                       int64_t pad_bottom);
  torch::Tensor runPacked(const torch::Tensor& input, ConvEpilogue epilogue, const torch::Tensor* residual,
                          bool consume_residual = false);
  std::mutex mutex_;  // a model may be shared by engines in several threads
  std::vector<Pack> packs_;
  std::vector<BandPack> band_packs_;
  OneOutputWeights one_output_weights_;
};
TORCH_MODULE(PackedConv2d);

}  // namespace derain::detail
