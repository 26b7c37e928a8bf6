#include "nets/conv_lstm.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr int kGateKernel = 3;  // 3x3 gate convolutions, as in PReNet / U-ARSE
constexpr int kGateCount = 4;   // i, f, o, g
}  // namespace

ConvLSTMImpl::ConvLSTMImpl(int input_channels, int hidden_channels) {
  gates_ = register_module("gates", PackedConv2d(
      torch::nn::Conv2dOptions(input_channels + hidden_channels, kGateCount * hidden_channels, kGateKernel)
          .padding(kGateKernel / 2)));
}

LSTMState ConvLSTMImpl::forward(const torch::Tensor& x, const LSTMState& state) {
  auto gates = gates_->forward(torch::cat({x, state.h}, 1)).chunk(kGateCount, 1);
  auto i = torch::sigmoid(gates[0]);
  auto f = torch::sigmoid(gates[1]);
  auto o = torch::sigmoid(gates[2]);
  auto g = torch::tanh(gates[3]);
  auto c = f * state.c + i * g;
  return {o * torch::tanh(c), c};
}

}  // namespace derain::detail
