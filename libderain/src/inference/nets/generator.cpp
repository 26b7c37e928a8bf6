#include "nets/generator.h"
#include "nets/channel_cat.h"
#include "nets/packed_conv.h"
#include "nets/residual_add.h"
#include "nets/shuffle_add.h"
#include "nets/upsample_smooth.h"
#include "nets/width_pair_conv.h"

#include <ATen/Parallel.h>

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr int kInputChannels = 4;  // image (3) + attention mask (1)
constexpr int kOutputChannels = 3;

PackedConv2d conv(int in, int out, int kernel, int stride = 1, int dilation = 1) {
  return PackedConv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(dilation * (kernel / 2))
                               .dilation(dilation));
}

// In place: saves an allocation and a pass over memory per layer (conv backward does not need its output).
torch::nn::ReLU relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

// Sequential::forward, with each convolution that a ReLU follows run as one fused call (the ReLU
// modules stay in the Sequential: they give the layers the indices the model files name them by).
// `skip_last`: all but the last layer.
torch::Tensor runFusingRelu(torch::nn::Sequential& layers, torch::Tensor x, bool skip_last = false) {
  auto it = layers->begin();
  const auto end = skip_last ? std::prev(layers->end()) : layers->end();
  while (it != end) {
    auto conv = std::dynamic_pointer_cast<PackedConv2dImpl>(it->ptr());
    auto next = std::next(it);
    if (conv && next != end && std::dynamic_pointer_cast<torch::nn::ReLUImpl>(next->ptr())) {
      x = conv->forwardRelu(x);
      it = std::next(next);
    } else {
      x = it->forward(x);
      ++it;
    }
  }
  return x;
}

}  // namespace

UpsampleImpl::UpsampleImpl(int in_channels, int out_channels) {
  deconv_ = register_module("deconv", torch::nn::ConvTranspose2d(
      torch::nn::ConvTranspose2dOptions(in_channels, out_channels, 4).stride(2).padding(1)));
}

namespace {
constexpr int kUpscale = 2;
constexpr int kPhases = kUpscale * kUpscale;
constexpr int kPhaseKernel = 2;  // each output phase of the k4 s2 p1 transposed conv reads 2x2 inputs
// Transposed conv k4 s2 p1 per output phase: output row 2y + a takes input rows y + a - 1 + r,
// r = 0, 1, with the transposed kernel's row kTap[a][r]. The same holds for columns.
constexpr int kTap[kUpscale][kPhaseKernel] = {{3, 1}, {2, 0}};

// [in, out, 4, 4] transposed-conv weights -> [4 * out, in, 2, 2] weights of the phase convolution
// (generator.h): output channel (a * 2 + b) * out + o is phase (a, b) of channel o, and its kernel
// row r reads input row y + a - 1 + r at output row y + a. Only the transposed conv's own taps: no
// zeros, so it does the transposed convolution's arithmetic and no more.
torch::Tensor phaseWeights(const torch::Tensor& transposed) {
  const int64_t in = transposed.size(0), out = transposed.size(1);
  auto w = torch::empty({kUpscale, kUpscale, out, in, kPhaseKernel, kPhaseKernel}, transposed.options());
  for (int a = 0; a < kUpscale; ++a)
    for (int b = 0; b < kUpscale; ++b)
      for (int r = 0; r < kPhaseKernel; ++r)
        for (int s = 0; s < kPhaseKernel; ++s)
          w[a][b].select(2, r).select(2, s).copy_(transposed.select(2, kTap[a][r]).select(2, kTap[b][s]).t());
  return w.reshape({kPhases * out, in, kPhaseKernel, kPhaseKernel});
}
}  // namespace

torch::Tensor interleavePhases(const torch::Tensor& phases) {
  const int64_t n = phases.size(0), c = phases.size(1) / kPhases, h = phases.size(2) - 1, w = phases.size(3) - 1;
  std::vector<torch::Tensor> parts;
  for (int a = 0; a < kUpscale; ++a)
    for (int b = 0; b < kUpscale; ++b)
      parts.push_back(phases.narrow(1, (a * kUpscale + b) * c, c).narrow(2, a, h).narrow(3, b, w));
  // [n, c, 4, h, w] -> channel o * 4 + phase: pixel_shuffle's order.
  return torch::pixel_shuffle(torch::stack(parts, 2).reshape({n, c * kPhases, h, w}), kUpscale);
}

torch::Tensor UpsampleImpl::phaseConvolution(const torch::Tensor& x) {
  const auto dtype = x.scalar_type();
  auto conv = phase_conv_.get(deconv_->weight, dtype, [&] {
    const auto& weight = deconv_->weight;
    const int64_t in = weight.size(0), out = weight.size(1);
    PackedConv2d made(torch::nn::Conv2dOptions(in, out * kPhases, kPhaseKernel).padding(1));
    made->weight.set_data(phaseWeights(weight.to(torch::kFloat32)).to(dtype));
    made->bias.set_data(deconv_->bias.to(torch::kFloat32).repeat({kPhases}).to(dtype));
    return made;
  });
  return conv->forward(x);
}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x) { return run(x, nullptr); }

torch::Tensor UpsampleImpl::forwardAdd(const torch::Tensor& x, const torch::Tensor& skip) { return run(x, &skip); }

torch::Tensor UpsampleImpl::run(const torch::Tensor& x, const torch::Tensor* skip) {
  if (c10::InferenceMode::is_enabled() && x.device().is_cpu()) {
    auto phases = phaseConvolution(x);
    const auto dtype = phases.scalar_type();
    if (phases.is_contiguous(at::MemoryFormat::ChannelsLast) && (dtype == torch::kFloat || dtype == torch::kBFloat16)) {
      const int64_t n = phases.size(0), c = phases.size(1) / kPhases, h = phases.size(2) - 1, w = phases.size(3) - 1;
      auto out = torch::empty({n, c, h * kUpscale, w * kUpscale}, phases.options().memory_format(at::MemoryFormat::ChannelsLast));
      // The skip joins this pass only as memory laid out like the output; otherwise it is added after.
      const bool fuse = skip && skip->scalar_type() == dtype && skip->sizes() == out.sizes() &&
                        skip->is_contiguous(at::MemoryFormat::ChannelsLast);
      if (dtype == torch::kFloat)
        upsampleSmoothRelu(phases.data_ptr<float>(), fuse ? skip->data_ptr<float>() : nullptr, out.data_ptr<float>(),
                           n, c, h, w, at::get_num_threads());
      else
        upsampleSmoothRelu(phases.data_ptr<c10::BFloat16>(), fuse ? skip->data_ptr<c10::BFloat16>() : nullptr,
                           out.data_ptr<c10::BFloat16>(), n, c, h, w, at::get_num_threads());
      return skip && !fuse ? residualAdd(out, *skip, /*relu=*/false) : out;
    }
    auto y = interleavePhases(phases);
    // LibTorch 1.13 has no bf16 reflection pad on the CPU: the smoothing runs in fp32.
    auto out = dtype == torch::kBFloat16 ? smooth(y.to(torch::kFloat32)).to(dtype) : smooth(y);
    return skip ? residualAdd(out, *skip, /*relu=*/false) : out;
  }
  namespace F = torch::nn::functional;
  torch::Tensor out;
  if (x.scalar_type() == torch::kBFloat16 && x.device().is_cpu()) {
    // LibTorch 1.13 on CPU has neither a bf16 transposed convolution (oneDNN) nor a bf16
    // reflection pad: this layer runs in fp32 (the weights stay bf16-rounded, so it is still "bf16").
    auto y = F::conv_transpose2d(x.to(torch::kFloat32), deconv_->weight.to(torch::kFloat32),
                                 F::ConvTranspose2dFuncOptions()
                                     .bias(deconv_->bias.to(torch::kFloat32))
                                     .stride(2)
                                     .padding(1));
    out = smooth(y).to(x.scalar_type());
  } else {
    out = smooth(deconv_->forward(x));
  }
  return skip ? residualAdd(out, *skip, /*relu=*/false) : out;
}

torch::Tensor UpsampleImpl::smooth(const torch::Tensor& y) {
  namespace F = torch::nn::functional;
  auto padded = F::pad(y, F::PadFuncOptions({1, 0, 1, 0}).mode(torch::kReflect));
  return F::avg_pool2d(padded, F::AvgPool2dFuncOptions(2).stride(1)).relu_();
}

GeneratorImpl::GeneratorImpl(const GeneratorConfig& config)
    : unshuffle_(config.unshuffle), residual_(config.residual) {
  const int c = config.channels;
  const int f2 = config.unshuffle * config.unshuffle;
  encode_full_ = register_module("encode_full",
      torch::nn::Sequential(conv(kInputChannels * f2, c, config.first_kernel), relu()));
  encode_half_ = register_module("encode_half",
      torch::nn::Sequential(conv(c, 2 * c, 3, 2), relu(), conv(2 * c, 2 * c, 3), relu()));
  torch::nn::Sequential body(conv(2 * c, 4 * c, 3, 2), relu());
  for (int i = 0; i < config.pre_convs; ++i) {
    body->push_back(conv(4 * c, 4 * c, 3));
    body->push_back(relu());
  }
  for (int d : config.dilations) {
    body->push_back(conv(4 * c, 4 * c, 3, 1, d));
    body->push_back(relu());
  }
  for (int i = 0; i < config.post_convs; ++i) {
    body->push_back(conv(4 * c, 4 * c, 3));
    body->push_back(relu());
  }
  body_ = register_module("body", body);
  up_half_ = register_module("up_half", Upsample(4 * c, 2 * c));
  decode_half_ = register_module("decode_half", torch::nn::Sequential(conv(2 * c, 2 * c, 3), relu()));
  up_full_ = register_module("up_full", Upsample(2 * c, c));
  decode_full_ = register_module("decode_full",
      torch::nn::Sequential(conv(c, c / 2, 3), relu(), conv(c / 2, kOutputChannels * f2, 3)));
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& image, const torch::Tensor& mask) {
  const at::Tensor parts[] = {image, mask.to(image.dtype())};
  auto input = unshuffle_ > 1 ? catUnshuffled(parts, unshuffle_) : catChannels(parts);
  auto skip1 = runFusingRelu(encode_full_, input);
  auto skip2 = runFusingRelu(encode_half_, skip1);
  auto x = runFusingRelu(body_, skip2);
  x = up_half_->forwardAdd(x, skip2);
  x = runFusingRelu(decode_half_, x);
  x = up_full_->forwardAdd(x, skip1);
  if (unshuffle_ > 1 && residual_ && c10::InferenceMode::is_enabled() && x.device().is_cpu()) {
    // The last convolution with its outputs in row-phase order, so the shuffle-add reads each output
    // row's values in runs (shuffle_add.h).
    auto last = std::dynamic_pointer_cast<PackedConv2dImpl>(decode_full_->ptr(decode_full_->size() - 1));
    const auto dtype = x.scalar_type();
    auto reordered = last_conv_.get(last->weight, dtype, [&] {
      const auto order = rowPhaseOrder(kOutputChannels, unshuffle_);
      const auto& o = last->options;
      PackedConv2d made(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                            .stride(o.stride())
                            .padding(o.padding())
                            .dilation(o.dilation()));
      made->weight.set_data(last->weight.index_select(0, order).to(dtype));
      made->bias.set_data(last->bias.index_select(0, order).to(dtype));
      return made;
    });
    auto first = std::dynamic_pointer_cast<PackedConv2dImpl>(decode_full_->ptr(0));
    torch::Tensor features;
    if (decode_full_->size() == 3 && widthPairApplies(*first, x)) {  // conv, ReLU, last conv
      auto paired = paired_conv_.get(first->weight, dtype, [&] { return makeWidthPairConv(*first, dtype); });
      features = unpairWidth(paired->forwardRelu(x));
    } else {
      features = runFusingRelu(decode_full_, x, /*skip_last=*/true);
    }
    return shuffleAdd(reordered->forward(features), image, unshuffle_);
  }
  x = runFusingRelu(decode_full_, x);
  if (unshuffle_ > 1) x = torch::pixel_shuffle(x, unshuffle_);
  return residual_ ? residualAdd(x, image, /*relu=*/false) : x;
}

}  // namespace derain::detail
