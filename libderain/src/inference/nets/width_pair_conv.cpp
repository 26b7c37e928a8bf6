#include "nets/width_pair_conv.h"

#include <torch/torch.h>

namespace derain::detail {

namespace {
constexpr int64_t kPairedChannels = 16;  // output channels oneDNN holds to a vector (fp32 and bf16)
constexpr int64_t kPair = 2;             // output columns per paired column
constexpr int64_t kTaps = 3;
}  // namespace

bool widthPairApplies(PackedConv2dImpl& conv, const torch::Tensor& input) {
  return conv.weight.size(0) * kPair == kPairedChannels && input.dim() == 4 && input.size(3) % kPair == 0 &&
         conv.packedSame3x3(input);
}

PackedConv2d makeWidthPairConv(const PackedConv2dImpl& conv, c10::ScalarType dtype) {
  const auto weight = conv.weight.to(torch::kFloat32);
  const int64_t out = weight.size(0), in = weight.size(1);
  PackedConv2d made(torch::nn::Conv2dOptions(in, kPair * out, {kTaps, kTaps + kPair - 1})
                        .stride({1, kPair})
                        .padding(1));
  // Column 2j reads input columns 2j - 1 .. 2j + 1 (taps 0-2 of the 3x4 window starting at 2j - 1),
  // column 2j + 1 reads 2j .. 2j + 2 (taps 1-3).
  auto paired = torch::zeros({kPair * out, in, kTaps, kTaps + kPair - 1});
  for (int64_t p = 0; p < kPair; ++p) paired.narrow(0, p * out, out).narrow(3, p, kTaps).copy_(weight);
  made->weight.set_data(paired.to(dtype));
  const auto bias = conv.bias.defined() ? conv.bias.to(torch::kFloat32) : torch::zeros({out});
  made->bias.set_data(bias.repeat({kPair}).to(dtype));
  return made;
}

torch::Tensor unpairWidth(const torch::Tensor& paired) {
  const int64_t n = paired.size(0), c = paired.size(1) / kPair, h = paired.size(2), w = paired.size(3) * kPair;
  // NHWC [n, h, w/2, 2c] is NHWC [n, h, w, c]: the same bytes.
  return paired.permute({0, 2, 3, 1}).view({n, h, w, c}).permute({0, 3, 1, 2});
}

}  // namespace derain::detail
