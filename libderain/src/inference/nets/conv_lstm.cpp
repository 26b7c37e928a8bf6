#include "nets/conv_lstm.h"
#include "nets/channel_cat.h"

#include <torch/torch.h>

#include <algorithm>

#include "nets/lstm_pointwise.h"

namespace derain::detail {

namespace {
constexpr int kGateKernel = 3;  // 3x3 gate convolutions, as in PReNet / U-ARSE
constexpr int kGateCount = 4;   // i, f, o, g
// Gate rows computed and consumed at a time in inference: well inside a core's L2 cache (the paper
// preset's 484-pixel bf16 rows, 124 KB each, go 8 at a time: the fastest in a trial of 4-32).
constexpr int64_t kGateBandBytes = int64_t{1} << 20;
}  // namespace

ConvLSTMImpl::ConvLSTMImpl(int input_channels, int hidden_channels) {
  gates_ = register_module("gates", PackedConv2d(
      torch::nn::Conv2dOptions(input_channels + hidden_channels, kGateCount * hidden_channels, kGateKernel)
          .padding(kGateKernel / 2)));
}

namespace {
// The cell's element-wise part over `pixels` pixels starting at pixel `first` of the state.
void cellsAt(const torch::Tensor& gates, const LSTMState& previous, const LSTMState& next, int64_t first,
             int64_t pixels) {
  const int channels = static_cast<int>(previous.c.size(1));
  const int64_t offset = first * channels;
  if (gates.scalar_type() == torch::kFloat)
    lstmPointwise(gates.data_ptr<float>(), previous.c.data_ptr<float>() + offset, next.c.data_ptr<float>() + offset,
                  next.h.data_ptr<float>() + offset, pixels, channels, at::get_num_threads());
  else
    lstmPointwise(gates.data_ptr<c10::BFloat16>(), previous.c.data_ptr<c10::BFloat16>() + offset,
                  next.c.data_ptr<c10::BFloat16>() + offset, next.h.data_ptr<c10::BFloat16>() + offset, pixels,
                  channels, at::get_num_threads());
}
}  // namespace

LSTMState ConvLSTMImpl::forward(const torch::Tensor& x, const LSTMState& state) {
  const auto input = catChannels({x, state.h});
  const auto dtype = input.scalar_type();
  torch::Tensor all_gates;
  if (c10::InferenceMode::is_enabled() && input.is_cpu() && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
      state.c.scalar_type() == dtype && state.c.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    // One pass instead of nine operators (lstm_pointwise.h), on a band of rows of the gates at a time
    // while the band is in cache: the whole gate tensor (4 x the state) never goes to memory and back.
    LSTMState next{torch::empty_like(state.c, at::MemoryFormat::ChannelsLast),
                   torch::empty_like(state.c, at::MemoryFormat::ChannelsLast)};
    const int64_t width = input.size(3);
    const int64_t row_bytes = width * kGateCount * state.c.size(1) * input.element_size();
    const int64_t band_rows = std::max<int64_t>(1, kGateBandBytes / row_bytes);
    if (gates_->forwardInBands(input, band_rows, [&](const torch::Tensor& band, int64_t first_row) {
          cellsAt(band, state, next, first_row * width, band.size(2) * width);
        }))
      return next;
    all_gates = gates_->forward(input);
    if (all_gates.is_contiguous(at::MemoryFormat::ChannelsLast)) {
      cellsAt(all_gates, state, next, 0, state.c.size(0) * state.c.size(2) * state.c.size(3));
      return next;
    }
  }
  if (!all_gates.defined()) all_gates = gates_->forward(input);
  auto gates = all_gates.chunk(kGateCount, 1);
  auto i = torch::sigmoid(gates[0]);
  auto f = torch::sigmoid(gates[1]);
  auto o = torch::sigmoid(gates[2]);
  auto g = torch::tanh(gates[3]);
  auto c = f * state.c + i * g;
  return {o * torch::tanh(c), c};
}

}  // namespace derain::detail
