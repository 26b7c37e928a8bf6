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
// The cell's element-wise part over `pixels` pixels starting at pixel `first` of the state, h also
// into h_copy's last `channels` channels when h_copy is defined.
void cellsAt(const torch::Tensor& gates, const torch::Tensor& c_prev, const LSTMState& next, const torch::Tensor& h_copy,
             int64_t first, int64_t pixels) {
  const int channels = static_cast<int>(c_prev.size(1));
  const int64_t offset = first * channels;
  const int64_t copy_stride = h_copy.defined() ? h_copy.size(1) : 0;
  const int64_t copy_offset = first * copy_stride + copy_stride - channels;
  if (gates.scalar_type() == torch::kFloat)
    lstmPointwise(gates.data_ptr<float>(), c_prev.data_ptr<float>() + offset, next.c.data_ptr<float>() + offset,
                  next.h.data_ptr<float>() + offset, pixels, channels, at::get_num_threads(),
                  h_copy.defined() ? h_copy.data_ptr<float>() + copy_offset : nullptr, copy_stride);
  else
    lstmPointwise(gates.data_ptr<c10::BFloat16>(), c_prev.data_ptr<c10::BFloat16>() + offset,
                  next.c.data_ptr<c10::BFloat16>() + offset, next.h.data_ptr<c10::BFloat16>() + offset, pixels,
                  channels, at::get_num_threads(),
                  h_copy.defined() ? h_copy.data_ptr<c10::BFloat16>() + copy_offset : nullptr, copy_stride);
}
}  // namespace

LSTMState ConvLSTMImpl::forward(const torch::Tensor& x, const LSTMState& state) {
  return forwardConcatenated(catChannels({x, state.h}), state.c, torch::Tensor());
}

LSTMState ConvLSTMImpl::forwardConcatenated(const torch::Tensor& input, const torch::Tensor& c_prev,
                                            const torch::Tensor& next_input) {
  const auto dtype = input.scalar_type();
  const auto cl = at::MemoryFormat::ChannelsLast;
  torch::Tensor all_gates;
  if (c10::InferenceMode::is_enabled() && input.is_cpu() && (dtype == torch::kFloat || dtype == torch::kBFloat16) &&
      c_prev.scalar_type() == dtype && c_prev.is_contiguous(cl) &&
      (!next_input.defined() || (next_input.scalar_type() == dtype && next_input.is_contiguous(cl) &&
                                 next_input.sizes().equals(input.sizes())))) {
    // One pass instead of nine operators (lstm_pointwise.h), on a band of rows of the gates at a time
    // while the band is in cache: the whole gate tensor (4 x the state) never goes to memory and back.
    LSTMState next{torch::empty_like(c_prev, cl), torch::empty_like(c_prev, cl)};
    const int64_t width = input.size(3);
    const int64_t row_bytes = width * kGateCount * c_prev.size(1) * input.element_size();
    const int64_t band_rows = std::max<int64_t>(1, kGateBandBytes / row_bytes);
    if (gates_->forwardInBands(input, band_rows, [&](const torch::Tensor& band, int64_t first_row) {
          cellsAt(band, c_prev, next, next_input, first_row * width, band.size(2) * width);
        }))
      return next;
    all_gates = gates_->forward(input);
    if (all_gates.is_contiguous(cl)) {
      cellsAt(all_gates, c_prev, next, next_input, 0, c_prev.size(0) * c_prev.size(2) * c_prev.size(3));
      return next;
    }
  }
  if (!all_gates.defined()) all_gates = gates_->forward(input);
  auto gates = all_gates.chunk(kGateCount, 1);
  auto i = torch::sigmoid(gates[0]);
  auto f = torch::sigmoid(gates[1]);
  auto o = torch::sigmoid(gates[2]);
  auto g = torch::tanh(gates[3]);
  auto c = f * c_prev + i * g;
  LSTMState next{o * torch::tanh(c), c};
  if (next_input.defined()) {
    const int64_t hidden = c.size(1);
    next_input.narrow(1, next_input.size(1) - hidden, hidden).copy_(next.h);
  }
  return next;
}

}  // namespace derain::detail
