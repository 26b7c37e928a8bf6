// The hand-fused inference kernels against the LibTorch operators they replace: the upsampling's end
// (pixel shuffle, reflection pad, 2x2 average, ReLU) bit for bit, the channels_last concatenation,
// and the ConvLSTM cell in bf16; and the thread split they use.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include <ATen/Parallel.h>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "nets/area_pool.h"
#include "nets/channel_cat.h"
#include "nets/conv_lstm.h"
#include "nets/dilated_as_batch.h"
#include "nets/generator.h"
#include "nets/mask_upsample.h"
#include "nets/residual_add.h"
#include "nets/shuffle_add.h"
#include "nets/upsample_smooth.h"
#include "grey_rain.h"
#include "parallel_for.h"
#include "tensor_image.h"

namespace {
constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast;

// The operators the fused kernel replaces, as the generator ran them (bf16 through fp32). phases: the
// phase convolution's output [n, 4c, h + 1, w + 1] (upsample_smooth.h).
torch::Tensor upsampleByOperators(const torch::Tensor& phases) {
  namespace F = torch::nn::functional;
  auto y = derain::detail::interleavePhases(phases).to(torch::kFloat32);
  auto padded = F::pad(y, F::PadFuncOptions({1, 0, 1, 0}).mode(torch::kReflect));
  return F::avg_pool2d(padded, F::AvgPool2dFuncOptions(2).stride(1)).relu_().to(phases.scalar_type());
}

torch::Tensor upsampleFused(const torch::Tensor& phases, int threads, const torch::Tensor& skip = {}) {
  const int64_t n = phases.size(0), c = phases.size(1) / 4, h = phases.size(2) - 1, w = phases.size(3) - 1;
  auto out = torch::empty({n, c, 2 * h, 2 * w}, phases.options().memory_format(kChannelsLast));
  if (phases.scalar_type() == torch::kFloat)
    derain::detail::upsampleSmoothRelu(phases.data_ptr<float>(), skip.defined() ? skip.data_ptr<float>() : nullptr,
                                       out.data_ptr<float>(), n, c, h, w, threads);
  else
    derain::detail::upsampleSmoothRelu(phases.data_ptr<c10::BFloat16>(),
                                       skip.defined() ? skip.data_ptr<c10::BFloat16>() : nullptr,
                                       out.data_ptr<c10::BFloat16>(), n, c, h, w, threads);
  return out;
}
}  // namespace

TEST(UpsampleSmooth, EqualsTheOperatorsBitForBit) {
  torch::manual_seed(21);
  // Odd sizes, two images, and 1..2 threads: row chunks start anywhere, also at an image's first row.
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (int threads : {1, 2}) {
      const auto phases = (torch::randn({2, 4 * 5, 8, 10}) * 3).to(dtype).contiguous(kChannelsLast);
      const auto fused = upsampleFused(phases, threads);
      const auto reference = upsampleByOperators(phases);
      ASSERT_EQ(fused.sizes(), (std::vector<int64_t>{2, 5, 14, 18}));
      EXPECT_TRUE(fused.is_contiguous(kChannelsLast));
      EXPECT_TRUE(torch::equal(fused, reference))
          << "dtype " << dtype << ", " << threads << " threads: max diff "
          << (fused.to(torch::kFloat) - reference.to(torch::kFloat)).abs().max().item<float>();
      // Non-trivial: the ReLU clipped some values and kept others.
      EXPECT_GT(fused.eq(0).sum().item<int64_t>(), 0);
      EXPECT_GT(fused.gt(0).sum().item<int64_t>(), 0);
    }
  }
}

// With the generator's skip connection in the same pass: bit for bit the operators and then LibTorch's
// addition (negative skips, so some sums fall below zero: no ReLU after the add).
TEST(UpsampleSmooth, WithTheSkipEqualsTheOperatorsThenTheAddition) {
  torch::manual_seed(24);
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (int threads : {1, 2}) {
      const auto phases = (torch::randn({2, 4 * 6, 6, 12}) * 3).to(dtype).contiguous(kChannelsLast);
      const auto skip = (torch::randn({2, 6, 10, 22}) * 2).to(dtype).contiguous(kChannelsLast);
      const auto fused = upsampleFused(phases, threads, skip);
      const auto reference = upsampleByOperators(phases) + skip;
      EXPECT_TRUE(torch::equal(fused, reference))
          << "dtype " << dtype << ", " << threads << " threads: max diff "
          << (fused.to(torch::kFloat) - reference.to(torch::kFloat)).abs().max().item<float>();
      EXPECT_GT(fused.lt(0).sum().item<int64_t>(), 0);
    }
  }
}

// A hand-checked corner: the reflection pad makes row -1 row 1 and column -1 column 1.
TEST(UpsampleSmooth, CornerAveragesTheReflectedNeighbours) {
  // One output channel, a 1x1 input: its four phases are the 2x2 shuffled image [[1, 2], [3, 4]].
  // Phase (a, b) is channel a * 2 + b at (a, b) of the 2x2 phase output; the other values are not read.
  auto phases = torch::full({1, 4, 2, 2}, 100.0f);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) phases[0][a * 2 + b][a][b] = static_cast<float>(a * 2 + b + 1);
  phases = phases.contiguous(kChannelsLast);
  const auto out = upsampleFused(phases, 1);
  // (0,0): rows {1, 0} x columns {1, 0} -> (4 + 3 + 2 + 1) / 4; (0,1): rows {1, 0} x columns {0, 1}.
  EXPECT_FLOAT_EQ(out[0][0][0][0].item<float>(), 2.5f);
  EXPECT_FLOAT_EQ(out[0][0][0][1].item<float>(), 2.5f);
  // (1,1): rows {0, 1} x columns {0, 1}: every pixel once.
  EXPECT_FLOAT_EQ(out[0][0][1][1].item<float>(), 2.5f);
  const auto negative = upsampleFused(-phases.clone(), 1);
  EXPECT_EQ(negative.abs().max().item<float>(), 0.0f);  // ReLU
}

TEST(ChannelCat, KeepsChannelsLastWithAOneChannelMask) {
  torch::manual_seed(4);
  const auto image = torch::randn({2, 3, 6, 10}).contiguous(kChannelsLast);
  const auto mask = torch::rand({2, 1, 6, 10}).contiguous(kChannelsLast);
  const auto reference = torch::cat({image, mask}, 1);
  EXPECT_FALSE(reference.is_contiguous(kChannelsLast)) << "LibTorch's cat keeps the layout now: drop catChannels";
  const auto out = derain::detail::catChannels({image, mask});
  EXPECT_TRUE(out.is_contiguous(kChannelsLast));
  EXPECT_TRUE(torch::equal(out, reference));
  // Three bf16 parts, as the hybrid block's.
  const auto a = torch::randn({1, 5, 4, 7}).to(torch::kBFloat16).contiguous(kChannelsLast);
  const auto b = torch::randn({1, 2, 4, 7}).to(torch::kBFloat16).contiguous(kChannelsLast);
  const auto c = torch::randn({1, 3, 4, 7}).to(torch::kBFloat16).contiguous(kChannelsLast);
  EXPECT_TRUE(torch::equal(derain::detail::catChannels({a, b, c}), torch::cat({a, b, c}, 1)));
  // Parts of whole 64-byte lines, lines and 8-byte words and single bytes (148 bytes a pixel), and
  // a line plus a tail: the three steps of each pixel's copy.
  const auto wide = torch::randn({1, 37, 3, 5}).contiguous(kChannelsLast);
  const auto line = torch::randn({1, 16, 3, 5}).contiguous(kChannelsLast);
  const auto one = torch::randn({1, 1, 3, 5}).contiguous(kChannelsLast);
  EXPECT_TRUE(torch::equal(derain::detail::catChannels({wide, line, one}), torch::cat({wide, line, one}, 1)));
  const auto h32 = torch::randn({1, 32, 3, 5}).to(torch::kBFloat16).contiguous(kChannelsLast);
  const auto f9 = torch::randn({1, 9, 3, 5}).to(torch::kBFloat16).contiguous(kChannelsLast);
  EXPECT_TRUE(torch::equal(derain::detail::catChannels({f9, h32}), torch::cat({f9, h32}, 1)));
  // NCHW inputs give LibTorch's own result; inputs needing gradients stay differentiable.
  EXPECT_TRUE(torch::equal(derain::detail::catChannels({image.contiguous(), mask}), reference));
  const auto weights = torch::ones({2, 1, 6, 10}).contiguous(kChannelsLast).requires_grad_();
  derain::detail::catChannels({image, weights}).sum().backward();
  EXPECT_TRUE(torch::equal(weights.grad(), torch::ones_like(weights)));
}

// One part copied into a channel slice: LibTorch's slice copy bit for bit, pixel by pixel for dense
// channels_last tensors (fp32, bf16), LibTorch's own copy otherwise; the other channels untouched.
TEST(ChannelCat, CopyIntoASliceEqualsTheSliceCopy) {
  torch::manual_seed(5);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (bool channels_last : {true, false}) {
      const auto part = torch::randn({2, 5, 6, 9}).to(dtype).contiguous(kChannelsLast);
      auto out = torch::randn({2, 12, 6, 9}).to(dtype);
      if (channels_last) out = out.contiguous(kChannelsLast);
      auto expected = out.clone();
      expected.narrow(1, 4, 5).copy_(part);
      derain::detail::copyChannelsInto(part, out, 4);
      EXPECT_TRUE(torch::equal(out, expected)) << dtype << (channels_last ? " channels_last" : " NCHW");
    }
  }
}

// Space-to-batch for dilated convolutions (dilated_as_batch.h), on sizes no multiple of d.
namespace {
torch::Tensor gathered(const torch::Tensor& x, int64_t d) {  // x: channels_last
  const derain::detail::SubImageGrid grid{d, x.size(2), x.size(3)};
  auto out = torch::empty({x.size(0) * d * d, x.size(1), grid.subHeight(), grid.subWidth()}, x.options())
                 .contiguous(kChannelsLast);
  derain::detail::gatherSubImages(x.data_ptr(), out.data_ptr(), x.size(0), x.size(1) * x.element_size(), grid);
  return out;
}
torch::Tensor scattered(const torch::Tensor& sub, int64_t images, int64_t height, int64_t width, int64_t d) {
  const derain::detail::SubImageGrid grid{d, height, width};
  auto out = torch::empty({images, sub.size(1), height, width}, sub.options()).contiguous(kChannelsLast);
  derain::detail::scatterSubImages(sub.data_ptr(), out.data_ptr(), images, sub.size(1) * sub.element_size(), grid);
  return out;
}
}  // namespace

// Gathered and scattered back: the image bit for bit; each sub-image holds the pixels d apart from its
// offset, and zeros beyond the image.
TEST(DilatedAsBatch, SubImagesHoldThePixelsDApartAndRoundTripExactly) {
  torch::manual_seed(14);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t d : {2, 3, 4, 8}) {
      const auto x = torch::randn({2, 5, 13, 22}).to(dtype).contiguous(kChannelsLast);
      const auto sub = gathered(x, d);
      const int64_t sub_h = (13 + d - 1) / d, sub_w = (22 + d - 1) / d;
      ASSERT_EQ(sub.sizes(), (std::vector<int64_t>{2 * d * d, 5, sub_h, sub_w}));
      // Image 1, offsets (a, b) = (d - 1, 1): its sub-image's (i, j) is the image's (d - 1 + d i, 1 + d j).
      const auto one = sub[d * d + (d - 1) * d + 1];
      for (int64_t i = 0; i < sub_h; ++i)
        for (int64_t j = 0; j < sub_w; ++j) {
          const int64_t y = d - 1 + d * i, x_ = 1 + d * j;
          const auto expected = y < 13 && x_ < 22 ? x[1].select(1, y).select(1, x_) : torch::zeros({5}, x.options());
          ASSERT_TRUE(torch::equal(one.select(1, i).select(1, j), expected)) << "d " << d << " at " << i << "," << j;
        }
      EXPECT_TRUE(torch::equal(scattered(sub, 2, 13, 22, d), x)) << "d " << d;
    }
  }
}

// A dilated 3x3 convolution equals the undilated one over the sub-images, scattered back (fp32,
// LibTorch's convolutions on both sides: the same sums in another order).
TEST(DilatedAsBatch, UndilatedConvolutionOverSubImagesEqualsTheDilatedOne) {
  torch::manual_seed(15);
  const auto x = torch::randn({2, 6, 19, 26}).contiguous(kChannelsLast);
  const auto w = torch::randn({7, 6, 3, 3}), b = torch::randn({7});
  for (int64_t d : {2, 3, 5, 8}) {
    const auto dilated = torch::conv2d(x, w, b, 1, d, d);
    const auto sub = torch::conv2d(gathered(x, d), w, b, 1, 1, 1).contiguous(kChannelsLast);
    const auto assembled = scattered(sub, 2, 19, 26, d);
    EXPECT_LT((assembled - dilated).abs().max().item<float>(), 1e-5f * dilated.abs().max().item<float>())
        << "d " << d;
  }
}

TEST(ChannelCat, UnshuffledEqualsPixelUnshuffleOfTheConcatenation) {
  torch::manual_seed(6);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t factor : {2, 3}) {
      const auto image = torch::randn({2, 3, 6 * factor, 5 * factor}).to(dtype).contiguous(kChannelsLast);
      const auto mask = torch::rand({2, 1, 6 * factor, 5 * factor}).to(dtype).contiguous(kChannelsLast);
      // 2 channels: the general loop (the generator's 3-channel image and 1-channel mask have their own).
      const auto other = torch::randn({2, 2, 6 * factor, 5 * factor}).to(dtype).contiguous(kChannelsLast);
      const auto fast = derain::detail::catUnshuffled({image, mask, other}, factor);
      const auto reference = torch::pixel_unshuffle(torch::cat({image, mask, other}, 1), factor);
      EXPECT_TRUE(fast.is_contiguous(kChannelsLast));
      EXPECT_TRUE(torch::equal(fast, reference)) << "dtype " << dtype << " factor " << factor;
    }
  }
}

// bf16 cell in one pass: computed in float and rounded once, so at least as close to the fp32 cell as
// LibTorch's nine bf16 operators (each rounding), and within bf16 rounding of it.
TEST(ConvLSTM, Bf16OnePassCellIsWithinBf16RoundingOfFp32) {
  using derain::detail::ConvLSTM;
  using derain::detail::LSTMState;
  torch::manual_seed(31);
  ConvLSTM lstm(16, 16);
  const auto x = torch::randn({1, 16, 13, 21}).contiguous(kChannelsLast);
  const auto c0 = torch::randn({1, 16, 13, 21}).contiguous(kChannelsLast);
  auto step = [&](torch::ScalarType dtype, bool inference) {
    ConvLSTM copy(16, 16);
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < copy->parameters().size(); ++i) copy->parameters()[i].copy_(lstm->parameters()[i]);
    }
    copy->to(dtype);
    c10::optional<c10::InferenceMode> mode;
    if (inference) mode.emplace();
    torch::NoGradGuard no_grad;
    LSTMState state{torch::zeros_like(c0).to(dtype).contiguous(kChannelsLast), c0.to(dtype).contiguous(kChannelsLast)};
    state = copy->forward(x.to(dtype).contiguous(kChannelsLast), state);
    return std::make_pair(state.h.to(torch::kFloat), state.c.to(torch::kFloat));
  };
  const auto fp32 = step(torch::kFloat, true);
  const auto fused = step(torch::kBFloat16, true);
  const auto operators = step(torch::kBFloat16, false);
  const float fused_error = (fused.first - fp32.first).abs().max().item<float>();
  const float operator_error = (operators.first - fp32.first).abs().max().item<float>();
  EXPECT_GT(fused_error, 0.0f) << "bf16 was not used";
  EXPECT_LE(fused_error, operator_error);
  // h is in (-1, 1): bf16 keeps 8 bits, so a rounding is at most 2^-8 there; the gate convolution in
  // bf16 adds a few more.
  EXPECT_LT(fused_error, 0.03f);
  EXPECT_LT((fused.second - fp32.second).abs().max().item<float>(), 0.05f * fp32.second.abs().max().item<float>());
}

// The image <-> tensor conversions in one pass against LibTorch's operators they replace.
namespace {
// As imageToTensor + padToMultiple + .to(dtype) were written before: from_blob, flip, to, div, sub, pad.
torch::Tensor networkTensorByOperators(const cv::Mat& image, int multiple, torch::ScalarType dtype) {
  namespace F = torch::nn::functional;
  const bool bytes = image.depth() == CV_8U;
  auto hwc = torch::from_blob(image.data, {image.rows, image.cols, 3}, bytes ? torch::kUInt8 : torch::kFloat32);
  auto x = hwc.permute({2, 0, 1}).unsqueeze(0).flip({1});
  x = bytes ? x.to(torch::kFloat32).div(127.5).sub(1.0) : x.mul(2.0).sub(1.0);
  const int64_t pad_h = (multiple - image.rows % multiple) % multiple, pad_w = (multiple - image.cols % multiple) % multiple;
  x = F::pad(x, F::PadFuncOptions({0, pad_w, 0, pad_h}).mode(torch::kReplicate));
  return x.to(dtype).contiguous(kChannelsLast);
}
}  // namespace

TEST(TensorImage, NetworkTensorEqualsTheOperatorsBitForBit) {
  cv::Mat bytes(13, 22, CV_8UC3), floats(13, 22, CV_32FC3);
  cv::randu(bytes, 0, 256);
  cv::randu(floats, 0.0f, 1.0f);
  for (const cv::Mat& image : {bytes, floats}) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      for (int multiple : {1, 8}) {
        const auto fast = derain::detail::networkTensor(image, derain::ColorOrder::BGR, multiple, dtype);
        const auto reference = networkTensorByOperators(image, multiple, dtype);
        ASSERT_EQ(fast.sizes(), reference.sizes());
        EXPECT_TRUE(fast.is_contiguous(kChannelsLast));
        EXPECT_TRUE(torch::equal(fast, reference)) << "depth " << image.depth() << " dtype " << dtype << " multiple "
                                                   << multiple;
      }
    }
  }
  // RGB order keeps the channels; BGR swaps them.
  const auto rgb = derain::detail::networkTensor(bytes, derain::ColorOrder::RGB, 1, torch::kFloat32);
  const auto bgr = derain::detail::networkTensor(bytes, derain::ColorOrder::BGR, 1, torch::kFloat32);
  EXPECT_TRUE(torch::equal(rgb, bgr.flip({1})));
  EXPECT_FLOAT_EQ(rgb[0][0][0][0].item<float>(), bytes.at<cv::Vec3b>(0, 0)[0] / 127.5f - 1.0f);
}

TEST(TensorImage, TensorToImageEqualsTheOperatorsBitForBit) {
  torch::manual_seed(9);
  // Partly beyond [-1, 1], to exercise the clamp; and values whose bytes are exact halves (127.5,
  // 25.5, 76.5, 178.5, 229.5 in float), to exercise round-half-to-even.
  auto t = (torch::randn({1, 3, 11, 17}) * 0.8).contiguous(kChannelsLast);
  t.index_put_({0, 0, 0, torch::indexing::Slice(0, 5)}, torch::tensor({0.0f, -0.8f, -0.4f, 0.4f, 0.8f}));
  ASSERT_EQ(((t[0][0][0][0] + 1) * 127.5).item<float>(), 127.5f);
  // bf16 tensors (a bf16 engine's output) are read as they are: the same as converting to float first.
  for (auto dtype : {torch::kFloat32, torch::kBFloat16})
  for (bool narrow : {false, true}) {
    const auto input = (narrow ? torch::cat({t, t.narrow(1, 0, 1)}, 1).narrow(1, 0, 3) : t).to(dtype);
    for (auto order : {derain::ColorOrder::BGR, derain::ColorOrder::RGB})
    for (int type : {CV_8UC3, CV_32FC3}) {
      const cv::Mat fast = derain::detail::tensorToImage(input, type, order);
      const auto chw = input.to(torch::kFloat32)[0];
      auto hwc = (order == derain::ColorOrder::BGR ? chw.flip({0}) : chw).permute({1, 2, 0}).clamp(-1.0, 1.0);
      auto expected = type == CV_8UC3 ? hwc.add(1.0).mul(127.5).round().to(torch::kUInt8).contiguous()
                                      : hwc.add(1.0).mul(0.5).contiguous();
      ASSERT_EQ(fast.type(), type);
      const size_t bytes = expected.numel() * expected.element_size();
      EXPECT_EQ(std::memcmp(fast.data, expected.data_ptr(), bytes), 0)
          << "type " << type << " narrow " << narrow << " dtype " << dtype << " BGR "
          << (order == derain::ColorOrder::BGR);
    }
  }
}

TEST(GreyRain, EqualsTheOperatorsBitForBit) {
  torch::manual_seed(17);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (bool bounded : {false, true}) {
      const auto input = (torch::rand({2, 3, 9, 14}) * 2 - 1).to(dtype).contiguous(kChannelsLast);
      // Removals of both signs, some deeper than the bound allows.
      const auto derained =
          (input.to(torch::kFloat) - torch::rand({2, 3, 9, 14}) * 0.6 + 0.1).to(dtype).contiguous(kChannelsLast);
      const auto luma = torch::tensor({0.299f, 0.587f, 0.114f}).to(dtype).view({1, 3, 1, 1});
      auto removed = ((input - derained) * luma).sum(1, true);
      if (bounded) {
        const auto input_luma = (input * luma).sum(1, true);
        const auto background = -torch::max_pool2d(-input_luma, {1, 7}, {1, 1}, {0, 3});
        removed = torch::minimum(removed, input_luma - background).clamp_min(0);
      }
      const auto reference = input - removed;
      const auto fast = derain::detail::greyRain(input, derained, luma, bounded);
      EXPECT_TRUE(fast.is_contiguous(kChannelsLast));
      EXPECT_TRUE(torch::equal(fast, reference))
          << "dtype " << dtype << " bounded " << bounded << ": max diff "
          << (fast.to(torch::kFloat) - reference.to(torch::kFloat)).abs().max().item<float>();
      // The removed layer is grey: the same in every channel (up to the dtype's rounding of input - luma).
      const auto layer = (input.to(torch::kFloat) - fast.to(torch::kFloat));
      EXPECT_LT((layer.select(1, 0) - layer.select(1, 2)).abs().max().item<float>(),
                dtype == torch::kFloat32 ? 1e-6f : 1e-2f);
      // The bound clamps something here (so the case tests it), and only when asked.
      const auto unbounded = derain::detail::greyRain(input, derained, luma, false);
      EXPECT_EQ(torch::equal(fast, unbounded), !bounded) << "dtype " << dtype;
    }
  }
}

// EngineOptions::rain_strength: the removed layer times the strength (rounded to the dtype) before
// the bound, bit for bit as the operators (1: the plain layer), 0 the input itself.
TEST(GreyRain, StrengthScalesTheLayerBeforeTheBoundBitForBit) {
  torch::manual_seed(19);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto input = (torch::rand({1, 3, 11, 16}) * 2 - 1).to(dtype).contiguous(kChannelsLast);
    const auto derained =
        (input.to(torch::kFloat) - torch::rand({1, 3, 11, 16}) * 0.6 + 0.1).to(dtype).contiguous(kChannelsLast);
    const auto luma = torch::tensor({0.299f, 0.587f, 0.114f}).to(dtype).view({1, 3, 1, 1});
    for (bool bounded : {false, true}) {
      for (float strength : {0.0f, 0.5f, 1.0f, 1.7f}) {
        auto removed = ((input - derained) * luma).sum(1, true) * strength;
        if (bounded) {
          const auto input_luma = (input * luma).sum(1, true);
          const auto background = -torch::max_pool2d(-input_luma, {1, 7}, {1, 1}, {0, 3});
          removed = torch::minimum(removed, input_luma - background).clamp_min(0);
        }
        const auto fast = derain::detail::greyRain(input, derained, luma, bounded, strength);
        EXPECT_TRUE(torch::equal(fast, input - removed)) << "dtype " << dtype << " bounded " << bounded
                                                         << " strength " << strength;
      }
      EXPECT_TRUE(torch::equal(derain::detail::greyRain(input, derained, luma, bounded, 0.0f), input));
      EXPECT_FALSE(torch::equal(derain::detail::greyRain(input, derained, luma, bounded, 1.7f),
                                derain::detail::greyRain(input, derained, luma, bounded)));
    }
  }
}

// The bound by hand on one grey row (luma = value): background 0.1 with a bright streak at x = 3
// (0.6) and a fainter one at x = 5 (0.3), G_N's output `net`; every channel of the bounded grey output
// at `strength` must be `expected`.
static void expectBoundedRow(float strength, const std::vector<float>& expected) {
  const std::vector<float> row = {0.1f, 0.1f, 0.1f, 0.6f, 0.1f, 0.3f, 0.1f, 0.1f, 0.1f};
  const std::vector<float> net = {0.3f, 0.1f, 0.1f, -0.2f, 0.1f, 0.25f, 0.1f, 0.08f, 0.1f};
  auto grey = [](const std::vector<float>& v) {
    return torch::tensor(v).view({1, 1, 1, 9}).expand({1, 3, 1, 9}).contiguous(kChannelsLast);
  };
  const auto luma = torch::tensor({0.299f, 0.587f, 0.114f}).view({1, 3, 1, 1});
  const auto out = derain::detail::greyRain(grey(row), grey(net), luma, true, strength);
  for (int c = 0; c < 3; ++c)
    for (int x = 0; x < 9; ++x)
      EXPECT_NEAR(out[0][c][0][x].item<float>(), expected[x], 1e-6f)
          << "strength " << strength << " channel " << c << " x " << x;
}

// G_N over-subtracts the streak (to -0.2: clamped to the background, no dark trace), brightens x = 0
// (clamped: nothing removed), removes 0.02 from the flat x = 7 (nothing stands above the background
// there: nothing removed) and 0.05 of x = 5's 0.2 (kept).
TEST(GreyRain, BoundByHand) {
  expectBoundedRow(1.0f, {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.25f, 0.1f, 0.1f, 0.1f});
}

// The same row at strength 2: x = 5's removal doubles to 0.1 (still inside its 0.2 above the
// background), x = 7's 0.04 is still clamped to nothing, and the streak is still taken to the
// background and no further.
TEST(GreyRain, StrengthByHand) {
  expectBoundedRow(2.0f, {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.2f, 0.1f, 0.1f, 0.1f});
}

TEST(ResidualAdd, EqualsAddThenReluBitForBit) {
  torch::manual_seed(23);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (auto format : {at::MemoryFormat::Contiguous, kChannelsLast}) {
      for (bool relu : {false, true}) {
        // Large enough for two threads (add_relu_kernel.cpp splits only big tensors).
        const auto x = torch::randn({1, 8, 70, 90}).to(dtype).contiguous(format);
        const auto y = torch::randn({1, 8, 70, 90}).to(dtype).contiguous(format);
        const auto reference = relu ? torch::relu(y + x) : y + x;
        at::Tensor fast;
        {
          c10::InferenceMode inference;
          fast = derain::detail::residualAdd(y.clone(), x, relu);
        }
        EXPECT_TRUE(torch::equal(fast, reference)) << "dtype " << dtype << " relu " << relu;
        EXPECT_EQ(fast.lt(0).any().item<bool>(), !relu);
      }
    }
  }
  // Outside inference (training) it is LibTorch's own differentiable expression and leaves y alone.
  const auto x = torch::randn({1, 2, 3, 4}, torch::requires_grad());
  const auto y = torch::randn({1, 2, 3, 4});
  const auto y_before = y.clone();
  derain::detail::residualAdd(y, x, true).sum().backward();
  EXPECT_TRUE(torch::equal(y, y_before));
  EXPECT_TRUE(x.grad().defined());
}


// parallelFor covers the range exactly once in chunks of at least the grain, on LibTorch's thread
// count: two threads here (at::parallel_for, called from this file, built like the kernels without
// -fopenmp, would run it all on one), one chunk when the grain covers the range.
TEST(ParallelFor, SplitsOverLibTorchsThreadsAndCoversTheRangeOnce) {
  const int threads_before = at::get_num_threads();
  at::set_num_threads(2);
  std::vector<std::atomic<int>> seen(1000);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  derain::detail::parallelFor(0, 1000, 10, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) ++seen[i];
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
    chunks.emplace_back(begin, end);
  });
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(seen[i].load(), 1) << i;
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(chunks.size(), 2u);
  int calls = 0;
  derain::detail::parallelFor(5, 25, 100, [&](int64_t begin, int64_t end) {
    ++calls;
    EXPECT_EQ(begin, 5);
    EXPECT_EQ(end, 25);
  });
  EXPECT_EQ(calls, 1);
  at::set_num_threads(threads_before);
}

// The mask's bilinear upsampling against F::interpolate (fp32 in, then .to(dtype)) for exact (4x) and
// inexact scales, from fp32 and bf16 masks: within 4 float ulps of 1 (values in [0, 1]; LibTorch sums
// the four products in an order not matched bit for bit), and a bf16 result at most one bf16 step
// (2^-8 near 1) off, on the few pixels (under 1 %) whose sum sits on a rounding boundary.
TEST(MaskUpsample, MatchesInterpolateWithinUlps) {
  namespace F = torch::nn::functional;
  torch::manual_seed(31);
  struct Case { int64_t h, w, out_h, out_w; };
  for (const Case& c : {Case{90, 160, 360, 640}, Case{8, 10, 29, 37}, Case{5, 7, 17, 26}, Case{1, 3, 4, 9}}) {
    for (auto in_type : {torch::kFloat32, torch::kBFloat16}) {
      for (auto out_type : {torch::kFloat32, torch::kBFloat16}) {
        const auto mask = torch::rand({2, 1, c.h, c.w}).to(in_type);
        const auto expected = F::interpolate(mask.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                                           .size(std::vector<int64_t>{c.out_h, c.out_w})
                                                                           .mode(torch::kBilinear)
                                                                           .align_corners(false))
                                  .to(out_type);
        at::Tensor fast;
        {
          c10::InferenceMode inference;  // outside inference it is F::interpolate itself (differentiable)
          fast = derain::detail::upsampleMask(mask, c.out_h, c.out_w, out_type);
        }
        ASSERT_EQ(fast.sizes(), expected.sizes());
        const auto diff = (fast.to(torch::kFloat) - expected.to(torch::kFloat)).abs();
        const std::string what = std::to_string(c.h) + "x" + std::to_string(c.w) + " -> " + std::to_string(c.out_h) +
                                 "x" + std::to_string(c.out_w) + (in_type == torch::kFloat32 ? " fp32" : " bf16") +
                                 (out_type == torch::kFloat32 ? " -> fp32" : " -> bf16");
        if (out_type == torch::kFloat32) {
          EXPECT_LE(diff.max().item<float>(), 4.0f * std::numeric_limits<float>::epsilon()) << what;
        } else {
          EXPECT_LE(diff.max().item<float>(), 1.0f / 256.0f) << what;
          EXPECT_LE(diff.gt(0).sum().item<int64_t>() * 100, diff.numel()) << what << ": more than 1 % of pixels differ";
        }
        EXPECT_GT(fast.to(torch::kFloat).std().item<float>(), 0.1f) << what;  // not a constant map
      }
    }
  }
}

// The U-ARSE's input pooling against F::adaptive_avg_pool2d, bit for bit: whole 4x4 windows (640x360
// -> 160x90) and uneven adaptive ones (37x29 -> 10x8), fp32 and bf16, channels_last, 3 channels (the
// U-ARSE's input, summed in registers) and 5 (the general loop).
TEST(AreaPool, EqualsAdaptiveAvgPoolBitForBit) {
  namespace F = torch::nn::functional;
  torch::manual_seed(37);
  struct Case { int64_t h, w, out_h, out_w, channels; };
  for (const Case& c : {Case{360, 640, 90, 160, 3}, Case{29, 37, 8, 10, 3}, Case{17, 26, 5, 7, 3},
                        Case{29, 37, 8, 10, 5}}) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      const auto image = (torch::rand({2, c.channels, c.h, c.w}) * 2 - 1).to(dtype).contiguous(kChannelsLast);
      const auto expected = F::adaptive_avg_pool2d(image, F::AdaptiveAvgPool2dFuncOptions({c.out_h, c.out_w}));
      at::Tensor fast;
      {
        c10::InferenceMode inference;  // outside inference it is F::adaptive_avg_pool2d itself
        fast = derain::detail::areaPool(image, c.out_h, c.out_w);
      }
      EXPECT_TRUE(fast.is_contiguous(kChannelsLast));
      EXPECT_TRUE(torch::equal(fast, expected))
          << c.h << "x" << c.w << "x" << c.channels << " -> " << c.out_h << "x" << c.out_w << " " << dtype
          << ": max diff "
          << (fast.to(torch::kFloat) - expected.to(torch::kFloat)).abs().max().item<float>();
    }
  }
}

// The generator's last step (pixel shuffle, then + the input image) against the two operators, bit
// for bit: factor 2 (lite) and 3, fp32 and bf16, odd sizes; outside inference, the operators themselves.
// The phases go in in row-phase order (shuffle_add.h), the operators take pixel_shuffle's.
TEST(ShuffleAdd, EqualsPixelShuffleThenAddBitForBit) {
  using derain::detail::rowPhaseOrder;
  // rowPhaseOrder by hand for 3 channels, factor 2: row phase a, column phase b, then the channel.
  EXPECT_TRUE(torch::equal(rowPhaseOrder(3, 2), torch::tensor({0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, torch::kLong)));
  torch::manual_seed(41);
  for (int64_t factor : {2, 3}) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      const auto shuffle_order = torch::randn({2, 3 * factor * factor, 7, 11}).to(dtype);
      const auto phases = shuffle_order.index_select(1, rowPhaseOrder(3, factor)).contiguous(kChannelsLast);
      const auto image = torch::randn({2, 3, 7 * factor, 11 * factor}).to(dtype).contiguous(kChannelsLast);
      const auto expected = torch::pixel_shuffle(shuffle_order, factor) + image;
      at::Tensor fast;
      {
        c10::InferenceMode inference;
        fast = derain::detail::shuffleAdd(phases, image, factor);
      }
      EXPECT_TRUE(fast.is_contiguous(kChannelsLast));
      EXPECT_TRUE(torch::equal(fast, expected)) << "factor " << factor << " " << dtype;
    }
  }
  const auto shuffle_order = torch::randn({1, 12, 4, 5}, torch::requires_grad());
  const auto phases = shuffle_order.index_select(1, rowPhaseOrder(3, 2));
  const auto image = torch::randn({1, 3, 8, 10});
  const auto out = derain::detail::shuffleAdd(phases, image, 2);
  EXPECT_TRUE(out.requires_grad());
  EXPECT_TRUE(torch::equal(out, torch::pixel_shuffle(shuffle_order, 2) + image));
}
