#include "nets/conv_lstm.h"
#include "nets/channel_cat.h"

#include <torch/torch.h>

#include "nets/lstm_pointwise.h"

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
  auto all_gates = gates_->forward(catChannels({x, state.h}));
  const auto dtype = all_gates.scalar_type();
  if (c10::InferenceMode::is_enabled() && all_gates.is_cpu() && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
      state.c.scalar_type() == dtype && all_gates.is_contiguous(at::MemoryFormat::ChannelsLast) &&
      state.c.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    // One pass instead of nine operators (lstm_pointwise.h).
    auto c = torch::empty_like(state.c, at::MemoryFormat::ChannelsLast);
    auto h = torch::empty_like(state.c, at::MemoryFormat::ChannelsLast);
    const int64_t pixels = state.c.size(0) * state.c.size(2) * state.c.size(3);
    const int channels = static_cast<int>(state.c.size(1));
    if (dtype == torch::kFloat)
      lstmPointwise(all_gates.data_ptr<float>(), state.c.data_ptr<float>(), c.data_ptr<float>(), h.data_ptr<float>(),
                    pixels, channels, at::get_num_threads());
    else
      lstmPointwise(all_gates.data_ptr<c10::BFloat16>(), state.c.data_ptr<c10::BFloat16>(),
                    c.data_ptr<c10::BFloat16>(), h.data_ptr<c10::BFloat16>(), pixels, channels,
                    at::get_num_threads());
    return {h, c};
  }
  auto gates = all_gates.chunk(kGateCount, 1);
  auto i = torch::sigmoid(gates[0]);
  auto f = torch::sigmoid(gates[1]);
  auto o = torch::sigmoid(gates[2]);
  auto g = torch::tanh(gates[3]);
  auto c = f * state.c + i * g;
  return {o * torch::tanh(c), c};
}

}  // namespace derain::detail
