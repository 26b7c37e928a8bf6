#include "nets/packed_conv.h"

#include <algorithm>

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>

#include "nets/int8_scope.h"
#include "nets/one_output_conv.h"
#include "nets/residual_add.h"

namespace derain::detail {

namespace {
constexpr size_t kMaxPacks = 4;  // input sizes remembered per conv (tiles share one size)
constexpr const char* kDirectConvName = "derain::onednn_conv2d";

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
  if (oneOutputApplies(input)) return runOneOutput(input);
  return runPacked(input, ConvEpilogue{}, nullptr);
}

bool PackedConv2dImpl::packedSame3x3(const torch::Tensor& input) const {
  if (!packable(input) || !input.is_contiguous(at::MemoryFormat::ChannelsLast)) return false;
  const ConvGeometry g = geometry(input);
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 1 && g.pad_w == 1 &&
         g.dilation_h == 1 && g.dilation_w == 1 && options.groups() == 1;
}

bool PackedConv2dImpl::oneOutputApplies(const torch::Tensor& input) const {
  return weight.size(0) == 1 && oneOutputConvChannelsSupported(input.size(1)) && oneOutputConvAvailable() &&
         packedSame3x3(input);
}

torch::Tensor PackedConv2dImpl::runOneOutput(const torch::Tensor& input) {
  const OneOutputConvShape shape{input.size(0), input.size(2), input.size(3), input.size(1)};
  std::shared_ptr<const std::vector<float>> taps;
  float bias_value = 0.0f;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t bias_version = bias.defined() ? bias._version() : -1;
    auto& w = one_output_weights_;
    if (w.weight_data != weight.data_ptr() || w.weight_version != weight._version() ||
        w.bias_version != bias_version) {
      // [1, C, 3, 3] -> [3][3][C] in float: each tap's channels side by side, as the input's.
      const auto t = weight[0].permute({1, 2, 0}).to(torch::kFloat).contiguous();
      w.taps = std::make_shared<const std::vector<float>>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      w.bias = bias.defined() ? bias.to(torch::kFloat).item<float>() : 0.0f;
      w.weight_data = weight.data_ptr(), w.weight_version = weight._version(), w.bias_version = bias_version;
    }
    taps = w.taps;
    bias_value = w.bias;
  }
  auto out = torch::empty({shape.batch, 1, shape.height, shape.width}, input.options(),
                          at::MemoryFormat::ChannelsLast);
  if (input.scalar_type() == torch::kFloat) {
    oneOutputConv3x3(input.data_ptr<float>(), taps->data(), bias_value, out.data_ptr<float>(), shape);
  } else {
    oneOutputConv3x3Bf16(reinterpret_cast<const uint16_t*>(input.data_ptr<c10::BFloat16>()), taps->data(), bias_value,
                         reinterpret_cast<uint16_t*>(out.data_ptr<c10::BFloat16>()), shape);
  }
  return out;
}

torch::Tensor PackedConv2dImpl::forwardRelu(const torch::Tensor& input) {
  if (!packable(input)) return torch::nn::Conv2dImpl::forward(input).relu_();
  return runPacked(input, ConvEpilogue{true, false}, nullptr);
}

torch::Tensor PackedConv2dImpl::forwardAddRelu(const torch::Tensor& input, const torch::Tensor& residual,
                                                bool relu_first) {
  if (!packable(input)) {
    auto y = torch::nn::Conv2dImpl::forward(input);
    if (relu_first) y.relu_();
    return torch::relu(y + residual);
  }
  return runPacked(input, ConvEpilogue{relu_first, true}, &residual);
}

torch::Tensor PackedConv2dImpl::forwardAddReluConsuming(const torch::Tensor& input, torch::Tensor residual,
                                                         bool relu_first) {
  if (!packable(input)) return forwardAddRelu(input, residual, relu_first);
  return runPacked(input, ConvEpilogue{relu_first, true}, &residual, /*consume_residual=*/true);
}

ConvGeometry PackedConv2dImpl::geometry(const torch::Tensor& input) const {
  const auto& padding = *c10::get_if<torch::ExpandingArray<2>>(&options.padding());  // packable() checked
  ConvGeometry g;
  g.batch = input.size(0), g.in_channels = input.size(1), g.height = input.size(2), g.width = input.size(3);
  g.out_channels = weight.size(0), g.kernel_h = weight.size(2), g.kernel_w = weight.size(3);
  g.stride_h = (*options.stride())[0], g.stride_w = (*options.stride())[1];
  g.pad_h = (*padding)[0], g.pad_w = (*padding)[1];
  g.dilation_h = (*options.dilation())[0], g.dilation_w = (*options.dilation())[1];
  return g;
}

ConvType PackedConv2dImpl::convType(torch::ScalarType dtype) {
  if (dtype != torch::kBFloat16) return ConvType::F32;
  return Int8Scope::active() && OneDnnConv::int8Available() ? ConvType::Int8 : ConvType::BF16;
}

std::shared_ptr<OneDnnConv> PackedConv2dImpl::makeDirect(const ConvGeometry& g, ConvType type,
                                                         ActivationLayout layout, ConvEpilogue epilogue) const {
  if (options.groups() != 1) return nullptr;
  // oneDNN takes the bias in the weights' type: a bias left in another is converted, not misread.
  const torch::Tensor b = bias.defined() ? bias.to(weight.scalar_type()).contiguous() : bias;
  const auto strides = weight.strides();
  try {
    return OneDnnConv::make(g, type, layout, epilogue,
                            weight.data_ptr(), strides.data(), b.defined() ? b.data_ptr() : nullptr);
  } catch (const std::exception&) {
    return nullptr;  // a problem oneDNN's API refuses: the caller takes LibTorch's path
  }
}

PackedConv2dImpl::Pack& PackedConv2dImpl::findPack(const torch::Tensor& input, ConvEpilogue epilogue) {
  const auto sizes = input.sizes().vec();
  const void* data = weight.data_ptr();
  const int64_t version = weight._version();
  // The layout is part of the key: a pack made for channels-last input describes channels-last memory.
  const bool channels_last = input.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
  const ConvType type = convType(input.scalar_type());
  for (auto& p : packs_)
    if (p.input_sizes == sizes && p.channels_last == channels_last && p.weight_data == data &&
        p.weight_version == version && p.epilogue == epilogue && p.type == type)
      return p;
  if (packs_.size() >= kMaxPacks) packs_.erase(packs_.begin());
  const auto layout = channels_last ? ActivationLayout::NHWC : ActivationLayout::NCHW;
  const ConvGeometry g = geometry(input);
  Pack pack;
  pack.input_sizes = sizes, pack.channels_last = channels_last, pack.weight_data = data;
  pack.weight_version = version, pack.epilogue = epilogue, pack.type = type;
  pack.direct = makeDirect(g, type, layout, epilogue);
  if (pack.direct && channels_last) pack.sub_images = subImageConv(g, type, epilogue, *pack.direct);
  if (!pack.direct) {
    const auto& padding = *c10::get_if<torch::ExpandingArray<2>>(&options.padding());
    torch::jit::Stack stack{weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt,
                            pair(options.stride()), pair(padding), pair(options.dilation()),
                            static_cast<int64_t>(options.groups()), sizes,
                            std::string(epilogue.relu ? "relu" : "none")};
    prepackOp()->callBoxed(&stack);
    pack.context = stack[0];
  }
  packs_.push_back(std::move(pack));
  return packs_.back();
}

torch::Tensor PackedConv2dImpl::runPacked(const torch::Tensor& input, ConvEpilogue epilogue,
                                          const torch::Tensor* residual, bool consume_residual) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto format = input.suggest_memory_format();
  const ConvGeometry g = geometry(input);
  const std::vector<int64_t> out_sizes{g.batch, g.out_channels, g.outputHeight(), g.outputWidth()};
  // The residual fuses only as memory laid out like the output; otherwise it is added afterwards.
  if (residual && !(residual->scalar_type() == input.scalar_type() && residual->sizes().equals(out_sizes) &&
                    residual->is_contiguous(format)))
    epilogue.add_relu = false;
  // In place only over memory the convolution does not read.
  epilogue.in_place = epilogue.add_relu && consume_residual && !residual->is_alias_of(input);
  Pack& pack = findPack(input, epilogue);
  torch::Tensor out;
  if (pack.direct) {
    // Named in profiles (LibTorch's profiler, RecordFunction observers) like the operators it replaces.
    RECORD_FUNCTION(kDirectConvName, std::vector<c10::IValue>());
    const auto src = input.contiguous(format);  // the pack describes dense memory in this layout
    if (epilogue.in_place) {
      pack.direct->run(src.data_ptr(), residual->data_ptr(), nullptr);
      return *residual;
    }
    out = torch::empty(out_sizes, input.options(), format);
    if (pack.sub_images) {
      const SubImageGrid grid = subImageGrid(g);
      const int64_t images = g.batch * grid.factor * grid.factor;
      const auto sub_in = torch::empty({images, g.in_channels, grid.subHeight(), grid.subWidth()}, input.options(), format);
      const auto sub_out = torch::empty({images, g.out_channels, grid.subHeight(), grid.subWidth()}, input.options(), format);
      gatherSubImages(src.data_ptr(), sub_in.data_ptr(), g.batch, g.in_channels * input.element_size(), grid);
      pack.sub_images->run(sub_in.data_ptr(), sub_out.data_ptr(), nullptr);
      scatterSubImages(sub_out.data_ptr(), out.data_ptr(), g.batch, g.out_channels * input.element_size(), grid);
    } else {
      pack.direct->run(src.data_ptr(), out.data_ptr(), epilogue.add_relu ? residual->data_ptr() : nullptr);
    }
  } else {
    torch::jit::Stack stack{input, pack.context};
    runOp()->callBoxed(&stack);
    out = stack[0].toTensor();
  }
  if (residual && !(pack.direct && epilogue.add_relu)) return residualAdd(out, *residual, /*relu=*/true);
  return out;
}

namespace {
bool isBrgemm(const OneDnnConv& conv) { return conv.implementation().rfind("brg", 0) == 0; }
}  // namespace

std::shared_ptr<OneDnnConv> PackedConv2dImpl::subImageConv(const ConvGeometry& g, ConvType type,
                                                           ConvEpilogue epilogue, const OneDnnConv& dilated) const {
  const int64_t d = g.dilation_h;
  if (epilogue.add_relu || d < 2 || g.dilation_w != d || g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 ||
      g.stride_w != 1 || g.pad_h != d || g.pad_w != d || g.padBottom() != d || isBrgemm(dilated))
    return nullptr;
  const SubImageGrid sub = subImageGrid(g);
  ConvGeometry undilated = g;
  undilated.batch = g.batch * d * d;
  undilated.height = sub.subHeight(), undilated.width = sub.subWidth();
  undilated.pad_h = undilated.pad_w = 1, undilated.pad_bottom = -1;
  undilated.dilation_h = undilated.dilation_w = 1;
  auto conv = makeDirect(undilated, type, ActivationLayout::NHWC, epilogue);
  return conv && isBrgemm(*conv) ? conv : nullptr;
}

std::shared_ptr<OneDnnConv> PackedConv2dImpl::bandConv(const torch::Tensor& input, int64_t input_rows,
                                                       int64_t pad_top, int64_t pad_bottom) {
  std::vector<int64_t> key = input.sizes().vec();
  const ConvType type = convType(input.scalar_type());
  key.insert(key.end(), {input_rows, pad_top, pad_bottom, static_cast<int64_t>(type)});
  const void* data = weight.data_ptr();
  const int64_t version = weight._version();
  for (auto& p : band_packs_)
    if (p.key == key && p.weight_data == data && p.weight_version == version) return p.conv;
  // Up to four shapes per input size (first, middle, last band, or one band); older sizes go.
  constexpr size_t kMaxBandPacks = 4 * kMaxPacks;
  if (band_packs_.size() >= kMaxBandPacks) band_packs_.erase(band_packs_.begin());
  ConvGeometry g = geometry(input);
  g.height = input_rows;
  g.pad_h = pad_top;
  g.pad_bottom = pad_bottom;
  band_packs_.push_back(
      BandPack{key, data, version, makeDirect(g, type, ActivationLayout::NHWC, ConvEpilogue{})});
  return band_packs_.back().conv;
}

bool PackedConv2dImpl::forwardInBands(const torch::Tensor& input, int64_t band_rows,
                                      const std::function<void(const torch::Tensor&, int64_t)>& consume) {
  if (!OneDnnConv::available() || !packable(input) || input.size(0) != 1 ||
      !input.is_contiguous(at::MemoryFormat::ChannelsLast) || options.groups() != 1)
    return false;
  const ConvGeometry g = geometry(input);
  const int64_t pad = g.kernel_h / 2;
  if (g.stride_h != 1 || g.stride_w != 1 || g.dilation_h != 1 || g.dilation_w != 1 || g.kernel_h % 2 == 0 ||
      g.pad_h != pad || g.pad_w != g.kernel_w / 2)
    return false;
  std::lock_guard<std::mutex> lock(mutex_);
  RECORD_FUNCTION(kDirectConvName, std::vector<c10::IValue>());
  const int64_t height = g.height, width = g.width;
  band_rows = std::max<int64_t>(1, std::min(band_rows, height));
  struct Band {
    int64_t first, rows, in_first;
    std::shared_ptr<OneDnnConv> conv;  // held: making a later band's may retire an older pack
  };
  std::vector<Band> bands;
  bands.reserve((height + band_rows - 1) / band_rows);
  // Every band's convolution made before any runs, so a refused shape leaves nothing half done. The
  // middle bands share one shape: only a band whose input rows or padding differ looks its up.
  int64_t shape[3] = {-1, -1, -1};  // the previous band's input rows, top and bottom padding
  for (int64_t first = 0; first < height; first += band_rows) {
    const int64_t rows = std::min(band_rows, height - first);
    // Input rows [first - pad, first + rows + pad) that exist; the rest is the convolution's zero padding.
    const int64_t in_first = std::max<int64_t>(0, first - pad), in_end = std::min(height, first + rows + pad);
    const int64_t band_shape[3] = {in_end - in_first, in_first - (first - pad), (first + rows + pad) - in_end};
    std::shared_ptr<OneDnnConv> conv;
    if (std::equal(band_shape, band_shape + 3, shape)) {
      conv = bands.back().conv;
    } else {
      conv = bandConv(input, band_shape[0], band_shape[1], band_shape[2]);
      if (!conv) return false;
      std::copy(band_shape, band_shape + 3, shape);
    }
    bands.push_back(Band{first, rows, in_first, std::move(conv)});
  }
  const auto buffer = torch::empty({1, g.out_channels, band_rows, width}, input.options(), at::MemoryFormat::ChannelsLast);
  const int64_t row_bytes = width * g.in_channels * static_cast<int64_t>(input.element_size());
  const char* base = static_cast<const char*>(input.data_ptr());
  for (const Band& b : bands) {
    const auto band = buffer.narrow(2, 0, b.rows);
    b.conv->run(base + b.in_first * row_bytes, band.data_ptr(), nullptr);
    consume(band, b.first);
  }
  return true;
}

}  // namespace derain::detail
