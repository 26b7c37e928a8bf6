#include "nets/uarse.h"
#include "nets/area_pool.h"
#include "nets/channel_cat.h"
#include "nets/mask_upsample.h"

#include <torch/torch.h>

#include "nets/feature_blocks.h"

namespace derain::detail {

namespace {
constexpr double kInitialMask = 0.5;  // mask state before the first stage (docs/method.md)
constexpr int kImageChannels = 3;
}  // namespace

UARSEImpl::UARSEImpl(const AttentionConfig& config) : config_(config) {
  const int c = config.channels;
  conv_in_ = register_module("conv_in",
      PackedConv2d(torch::nn::Conv2dOptions(kImageChannels + 1, c, 3).padding(1)));
  lstm_ = register_module("lstm", ConvLSTM(c, c));
  blocks_ = register_module("blocks", makeFeatureBlocks(config.block, c, config.blocks));
  conv_out_ = register_module("conv_out", PackedConv2d(torch::nn::Conv2dOptions(c, 1, 3).padding(1)));
}

torch::Tensor UARSEImpl::forward(const torch::Tensor& image) {
  const int64_t height = image.size(2), width = image.size(3);
  torch::Tensor x = image;
  if (config_.scale > 1) {
    // Area averaging keeps thin streaks visible as faint lines rather than aliasing them away.
    const int64_t h = (height + config_.scale - 1) / config_.scale;
    const int64_t w = (width + config_.scale - 1) / config_.scale;
    x = areaPool(image, h, w);
  }
  const auto n = x.size(0), h = x.size(2), w = x.size(3);
  // Made in x's layout, not made and then copied into it (torch::zeros ignores a memory format in its
  // options: the state came out NCHW and the one-pass LSTM cell was skipped).
  const auto format =
      x.is_contiguous(at::MemoryFormat::ChannelsLast) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  auto filled = [&](int64_t channels, double value) {
    return torch::empty({n, channels, h, w}, x.options(), format).fill_(value);
  };
  auto mask = filled(1, kInitialMask);
  LSTMState state{filled(config_.channels, 0.0), filled(config_.channels, 0.0)};
  if (c10::InferenceMode::is_enabled()) {
    // Inference: each stage's LSTM writes its h into the next stage's input as well, so that input
    // only needs the features copied in, and the feature blocks may then consume h: their first
    // residual add goes in place too (feature_blocks.h). Training keeps the plain steps below.
    auto input = catChannels({conv_in_->forwardRelu(catChannels({x, mask})), state.h});
    torch::Tensor spare;  // the stage before's input, free once its LSTM step is done
    for (int stage = 0; stage < config_.stages; ++stage) {
      if (stage > 0) copyChannelsInto(conv_in_->forwardRelu(catChannels({x, mask})), input, 0);
      const bool last = stage + 1 == config_.stages;
      auto next_input = last ? torch::Tensor() : spare.defined() ? spare : torch::empty_like(input);
      state = lstm_->forwardConcatenated(input, state.c, next_input);
      mask = conv_out_->forward(runFeatureBlocksConsuming(blocks_, std::move(state.h)));
      spare = std::move(input);
      input = std::move(next_input);
    }
  } else {
    for (int stage = 0; stage < config_.stages; ++stage) {
      auto features = conv_in_->forwardRelu(catChannels({x, mask}));
      state = lstm_->forward(features, state);
      mask = conv_out_->forward(runFeatureBlocks(blocks_, state.h));
    }
  }
  // Interpolated in float for a bf16 mask too (upsampleMask), so the weights stay unrounded.
  if (config_.scale > 1) mask = upsampleMask(mask, height, width, mask.scalar_type());
  return mask;
}

}  // namespace derain::detail
