#include "nets/packed_conv.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/InferenceMode.h>

namespace derain::detail {

namespace {
constexpr size_t kMaxPacks = 4;  // input sizes remembered per conv (tiles share one size)

const c10::OperatorHandle* prepackOp() {
  static const auto op = c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_prepack", ""});
  return op ? &*op : nullptr;
}

const c10::OperatorHandle* runOp() {
  static const auto op = c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_run", ""});
  return op ? &*op : nullptr;
}

std::vector<int64_t> pair(const torch::ExpandingArray<2>& a) { return {(*a)[0], (*a)[1]}; }
}  // namespace

bool PackedConv2dImpl::packable(const torch::Tensor& input) const {
  if (!c10::InferenceMode::is_enabled() || !input.device().is_cpu() || input.dim() != 4) return false;
  // fp32, or bf16 (oneDNN's bf16 kernels: the same results as LibTorch's own bf16 path, without the
  // per-call weight re-order; the README's performance section has the measured effect).
  const auto dtype = input.scalar_type();
  if ((dtype != torch::kFloat && dtype != torch::kBFloat16) || weight.scalar_type() != dtype) return false;
  if (!c10::get_if<torch::enumtype::kZeros>(&options.padding_mode())) return false;
  if (!c10::get_if<torch::ExpandingArray<2>>(&options.padding())) return false;
  return prepackOp() != nullptr && runOp() != nullptr;
}

torch::Tensor PackedConv2dImpl::forward(const torch::Tensor& input) {
  if (!packable(input)) return torch::nn::Conv2dImpl::forward(input);
  return runPacked(input, false);
}

torch::Tensor PackedConv2dImpl::forwardRelu(const torch::Tensor& input) {
  if (!packable(input)) return torch::nn::Conv2dImpl::forward(input).relu_();
  return runPacked(input, true);
}

torch::Tensor PackedConv2dImpl::runPacked(const torch::Tensor& input, bool relu) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto sizes = input.sizes().vec();
  const void* data = weight.data_ptr();
  const int64_t version = weight._version();
  Pack* pack = nullptr;
  for (auto& p : packs_)
    if (p.input_sizes == sizes && p.weight_data == data && p.weight_version == version && p.relu == relu) pack = &p;
  if (pack == nullptr) {
    if (packs_.size() >= kMaxPacks) packs_.erase(packs_.begin());
    const auto& padding = *c10::get_if<torch::ExpandingArray<2>>(&options.padding());
    torch::jit::Stack stack{weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt,
                            pair(options.stride()), pair(padding), pair(options.dilation()),
                            static_cast<int64_t>(options.groups()), sizes, std::string(relu ? "relu" : "none")};
    prepackOp()->callBoxed(&stack);
    packs_.push_back(Pack{sizes, data, version, relu, stack[0]});
    pack = &packs_.back();
  }
  torch::jit::Stack stack{input, pack->context};
  runOp()->callBoxed(&stack);
  return stack[0].toTensor();
}

}  // namespace derain::detail
