// Convolutional LSTM cell of U-ARSE: the four gates are one 3x3 conv over cat(x, h)
// (same parameters as four separate convs, one kernel launch).
#pragma once

#include "nets/packed_conv.h"

#include <utility>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

namespace derain::detail {

struct LSTMState {
  torch::Tensor h;  // hidden state
  torch::Tensor c;  // cell state
};

class ConvLSTMImpl : public torch::nn::Module {
 public:
  ConvLSTMImpl(int input_channels, int hidden_channels);
  // One step: gates i, f, o (sigmoid), g (tanh); c = f*c + i*g; h = o*tanh(c).
  LSTMState forward(const torch::Tensor& x, const LSTMState& state);

 private:
  PackedConv2d gates_{nullptr};
};
TORCH_MODULE(ConvLSTM);

}  // namespace derain::detail
