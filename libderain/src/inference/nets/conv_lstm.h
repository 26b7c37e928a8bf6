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
  // The same step on `input` = cat(x, h), made by the caller, with the previous cell state c. When
  // next_input is defined (the next step's input: x's channels first, then h's, x's to be filled by
  // the caller), the new h is written into its h channels too, so the next step concatenates only x.
  LSTMState forwardConcatenated(const torch::Tensor& input, const torch::Tensor& c, const torch::Tensor& next_input);

 private:
  PackedConv2d gates_{nullptr};
};
TORCH_MODULE(ConvLSTM);

}  // namespace derain::detail
