// Network shapes and deterministic forward passes.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "derain/config.hpp"
#include "networks.h"
#include "nets/conv_lstm.h"
#include "nets/feature_blocks.h"
#include "nets/generator.h"
#include "nets/one_output_conv.h"
#include "nets/onednn_conv.h"
#include "nets/packed_conv.h"
#include "nets/uarse.h"
#include "nets/width_pair_conv.h"
#include "test_support.h"

using derain::ModelConfig;
using derain::detail::DerainCycleGAN;

namespace {
torch::Tensor randomImage(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::rand({n, 3, h, w}, gen) * 2 - 1;
}

// The packed convolutions' tests run on both paths: oneDNN's API (where the build has it; a build
// without it runs the LibTorch path twice) and LibTorch's prepacked ops.
class PackedConv2dPaths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { derain::detail::OneDnnConv::setEnabled(GetParam()); }
  void TearDown() override { derain::detail::OneDnnConv::setEnabled(true); }
};
INSTANTIATE_TEST_SUITE_P(OneDnnApi, PackedConv2dPaths, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "OneDnnApi" : "LibTorchPrepacked";
                         });
}  // namespace

TEST(Networks, OutputShapesForEveryPart) {
  torch::NoGradGuard no_grad;
  for (ModelConfig config : {derain::test::tinyConfig(), ModelConfig::lite()}) {
    DerainCycleGAN net(config, true);
    auto x = randomImage(2, 64, 72, 1);
    EXPECT_EQ(net->att->forward(x).sizes(), (std::vector<int64_t>{2, 1, 64, 72}));
    EXPECT_EQ(net->derain(x).sizes(), x.sizes());
    EXPECT_EQ(net->rainmake(x).sizes(), x.sizes());
    auto scores = net->d_n->forward(x);
    ASSERT_EQ(static_cast<int>(scores.size()), config.discriminator.scales);
    // Four stride-2 convs with reflection pad 1 and k4 (floor((s + 2 - 4) / 2) + 1 each):
    // 64x72 -> 32x36 -> 16x18 -> 8x9 -> 4x4, then the 1x1 head; the next scale sees 32x36 -> 2x2.
    EXPECT_EQ(scores[0].sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
    EXPECT_EQ(scores[1].sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
    for (const auto& s : scores) EXPECT_EQ(s.size(1), 1);
  }
}

TEST(Networks, PaperUarseKeepsFullResolutionAndLiteUpsamples) {
  torch::NoGradGuard no_grad;
  DerainCycleGAN lite(ModelConfig::lite(), false);
  auto x = randomImage(1, 37, 53, 2);  // not a multiple of the attention scale
  EXPECT_EQ(lite->att->forward(x).sizes(), (std::vector<int64_t>{1, 1, 37, 53}));
}

TEST(Networks, SameSeedSameOutputsDifferentSeedDifferent) {
  torch::NoGradGuard no_grad;
  auto config = derain::test::tinyConfig();
  DerainCycleGAN a(config, true), b(config, true), c(config, true);
  derain::detail::initWeights(*a, 7);
  derain::detail::initWeights(*b, 7);
  derain::detail::initWeights(*c, 8);
  auto x = randomImage(1, 32, 32, 3);
  EXPECT_TRUE(torch::equal(a->derain(x), b->derain(x)));
  EXPECT_TRUE(torch::equal(a->d_r->forward(x)[0], b->d_r->forward(x)[0]));
  EXPECT_FALSE(torch::equal(a->derain(x), c->derain(x)));
}

TEST(Networks, InitIsNormalWithStd002AndZeroBias) {
  DerainCycleGAN net(ModelConfig::paper(), false);
  derain::detail::initWeights(*net, 1);
  for (const auto& item : net->g_n->named_parameters()) {
    const auto& p = item.value();
    if (p.dim() == 1) {
      EXPECT_EQ(p.abs().max().item<float>(), 0.0f) << item.key();
    } else if (p.numel() > 100000) {
      EXPECT_NEAR(p.std().item<double>(), 0.02, 0.0005) << item.key();
      EXPECT_NEAR(p.mean().item<double>(), 0.0, 0.0005) << item.key();
    }
  }
}

TEST(Networks, ResidualGeneratorStartsNearTheIdentity) {
  torch::NoGradGuard no_grad;
  auto config = derain::test::tinyConfig();
  config.generator.residual = true;
  DerainCycleGAN net(config, false);
  derain::detail::initWeights(*net, 3);
  auto x = randomImage(1, 32, 32, 5);
  auto out = net->derain(x);
  // N(0, 0.02) weights and zero biases make G's own output tiny: the result is the input plus a
  // small correction, while a non-residual G returns a nearly constant (grey) image.
  EXPECT_LT((out - x).abs().max().item<float>(), 0.05f);
  EXPECT_GT((out - x).abs().max().item<float>(), 0.0f);
  config.generator.residual = false;
  DerainCycleGAN plain(config, false);
  derain::detail::initWeights(*plain, 3);
  EXPECT_GT((plain->derain(x) - x).abs().mean().item<float>(), 0.3f);
}

TEST(Networks, GeneratorSeesTheMask) {
  torch::NoGradGuard no_grad;
  DerainCycleGAN net(derain::test::tinyConfig(), false);
  derain::detail::initWeights(*net, 3);
  auto x = randomImage(1, 16, 16, 4);
  auto zero = torch::zeros({1, 1, 16, 16}), one = torch::ones({1, 1, 16, 16});
  EXPECT_FALSE(torch::equal(net->g_n->forward(x, zero), net->g_n->forward(x, one)));
}

// A lite generator (space-to-depth and residual) in inference, where its last convolution runs with
// reordered outputs (rowPhaseOrder), its upsamplings as phase convolutions and, with 16 channels (the
// lite preset's), its decoder's 16 -> 8 convolution over pairs of columns (width_pair_conv.h): the
// training-mode forward within float rounding, and again after a weight change (the derived
// convolutions remade).
TEST(Networks, LiteGeneratorInferenceEqualsTheTrainingForward) {
  for (const int channels : {8, 16}) {
    auto config = derain::test::tinyConfig();
    ASSERT_EQ(config.generator.unshuffle, 2);
    ASSERT_TRUE(config.generator.residual);
    config.generator.channels = channels;
    derain::detail::Generator g(config.generator);
    torch::manual_seed(8);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : g->parameters()) p.uniform_(-0.3, 0.3);  // not near the identity: G's part counts
    }
    const auto x = randomImage(1, 32, 48, 6).contiguous(at::MemoryFormat::ChannelsLast);
    const auto mask = torch::rand({1, 1, 32, 48}).contiguous(at::MemoryFormat::ChannelsLast);
    auto compare = [&](const std::string& when) {
      at::Tensor reference, fast;
      {
        torch::NoGradGuard no_grad;
        reference = g->forward(x, mask);
      }
      {
        c10::InferenceMode inference;
        fast = g->forward(x, mask);
      }
      const float scale = (reference - x).abs().max().item<float>();
      EXPECT_GT(scale, 0.1f) << when;
      EXPECT_LT((fast - reference).abs().max().item<float>(), 1e-5f * scale) << when;
    };
    const std::string where = std::to_string(channels) + " channels, ";
    compare(where + "first forward");
    {
      torch::NoGradGuard no_grad;
      for (auto& p : g->parameters()) p.mul_(-1.25);  // a training step, say
    }
    compare(where + "after a weight change");
  }
}

// The packed convolution is the plain one, bit for bit, for every shape the networks use; it repacks
// when the weights change.
// The fused convolution + ReLU (oneDNN post-op) equals the convolution followed by a ReLU bit for
// bit, packed in inference and plain in training, and is packed apart from the plain convolution.
TEST_P(PackedConv2dPaths, FusedReluEqualsConvolutionThenRelu) {
  using derain::detail::PackedConv2d;
  torch::manual_seed(5);
  PackedConv2d conv(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  const auto x = torch::randn({1, 16, 33, 41}).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor reference, training;
  {
    torch::NoGradGuard no_grad;
    reference = torch::relu(conv->forward(x));
    training = conv->forwardRelu(x);
  }
  at::Tensor fused, plain;
  {
    c10::InferenceMode inference;
    fused = conv->forwardRelu(x);
    plain = conv->forward(x);
  }
  EXPECT_EQ(conv->packCount(), 2u) << "fused and plain share a pack";
  EXPECT_TRUE(torch::equal(fused, reference)) << "max diff " << (fused - reference).abs().max().item<float>();
  EXPECT_TRUE(torch::equal(training, reference));
  EXPECT_GT(plain.lt(0).sum().item<int64_t>(), 0);  // the ReLU really had something to clip
  EXPECT_EQ(fused.lt(0).sum().item<int64_t>(), 0);
}

// bf16 convolutions are packed too, with the same result as LibTorch's bf16 path, fused ReLU included.
TEST_P(PackedConv2dPaths, Bf16IsPackedAndEqualsThePlainBf16Convolution) {
  using derain::detail::PackedConv2d;
  torch::manual_seed(8);
  PackedConv2d conv(torch::nn::Conv2dOptions(16, 32, 3).padding(1));
  conv->to(torch::kBFloat16);
  const auto x = torch::randn({1, 16, 29, 35}).to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor plain, plain_relu;
  {
    torch::NoGradGuard no_grad;
    plain = conv->forward(x);
    plain_relu = torch::relu(conv->forward(x));
  }
  at::Tensor packed, packed_relu;
  {
    c10::InferenceMode inference;
    packed = conv->forward(x);
    packed_relu = conv->forwardRelu(x);
  }
  EXPECT_EQ(conv->packCount(), 2u) << "the packed path was not taken";
  ASSERT_EQ(packed.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(plain, packed));
  EXPECT_TRUE(torch::equal(plain_relu, packed_relu));
}

// A 3x3 convolution to one channel runs as dot products (one_output_conv.h), not through oneDNN:
// equal to a double-precision reference within float rounding in fp32 and one bf16 rounding in bf16,
// at the edges (padding) and for one-pixel images too, rows of one and of two 16-pixel blocks and
// a remainder, and it follows a weight change.
TEST(PackedConv2d, OneOutputChannelIsDotProductsWithinRounding) {
  using derain::detail::PackedConv2d;
  if (!derain::detail::oneOutputConvAvailable()) GTEST_SKIP() << "this CPU has no AVX-512: oneDNN runs it";
  for (const int64_t channels : {16, 32}) {
    for (const auto& sizes : {std::vector<int64_t>{2, channels, 7, 41}, std::vector<int64_t>{1, channels, 1, 1},
                              std::vector<int64_t>{1, channels, 1, 23}}) {
      for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
        torch::manual_seed(channels + sizes[2]);
        PackedConv2d conv(torch::nn::Conv2dOptions(channels, 1, 3).padding(1));
        {
          torch::NoGradGuard no_grad;
          conv->bias.fill_(0.25);  // init may leave it near zero: a bias added twice or dropped shows
        }
        conv->to(dtype);
        const auto x = torch::randn(sizes).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
        // The same sums in double from the same (rounded) values.
        auto reference = [&] {
          torch::NoGradGuard no_grad;
          return torch::conv2d(x.to(torch::kDouble), conv->weight.to(torch::kDouble), conv->bias.to(torch::kDouble),
                               1, 1);
        };
        at::Tensor fast;
        {
          c10::InferenceMode inference;
          fast = conv->forward(x);
        }
        const std::string where = std::to_string(channels) + " channels, " + std::to_string(sizes[2]) + "x" +
                                  std::to_string(sizes[3]) + (dtype == torch::kFloat ? " fp32" : " bf16");
        EXPECT_EQ(conv->packCount(), 0u) << where << ": oneDNN ran it";
        ASSERT_EQ(fast.scalar_type(), dtype) << where;
        ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{sizes[0], 1, sizes[2], sizes[3]})) << where;
        auto expected = reference();
        // fp32: float sums of up to 288 products of N(0,1) values; bf16: the result rounded once to 8 bits.
        const double tolerance = dtype == torch::kFloat ? 1e-5 : 1.0 / 256;
        auto bound = tolerance * (expected.abs() + 1);
        EXPECT_TRUE(((fast.to(torch::kDouble) - expected).abs() <= bound).all().item<bool>())
            << where << ": max diff " << (fast.to(torch::kDouble) - expected).abs().max().item<double>();
        {
          torch::NoGradGuard no_grad;
          conv->weight.mul_(2.0);  // an optimiser step: the kernel's copy of the weights must follow
          conv->bias.add_(1.0);
        }
        expected = reference();
        c10::InferenceMode inference;
        fast = conv->forward(x).to(torch::kDouble);
        bound = tolerance * (expected.abs() + 1);
        EXPECT_TRUE(((fast - expected).abs() <= bound).all().item<bool>())
            << where << " after a weight change: max diff " << (fast - expected).abs().max().item<double>();
      }
    }
  }
}

// A 3x3 convolution to 8 channels run over pairs of columns (width_pair_conv.h): with its ReLU, equal
// to a double-precision reference within float rounding (fp32) and one bf16 rounding (bf16), a view
// of the paired output; not applied to odd widths, strided convolutions or training.
TEST(PackedConv2d, WidthPairedConvolutionEqualsThe3x3WithinRounding) {
  using namespace derain::detail;
  torch::manual_seed(31);
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    PackedConv2d conv(torch::nn::Conv2dOptions(16, 8, 3).padding(1));
    conv->to(dtype);
    const auto x = torch::randn({2, 16, 7, 10}).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
    const auto expected = [&] {
      torch::NoGradGuard no_grad;
      return torch::relu(torch::conv2d(x.to(torch::kDouble), conv->weight.to(torch::kDouble),
                                       conv->bias.to(torch::kDouble), 1, 1));
    }();
    EXPECT_FALSE(widthPairApplies(*conv, x)) << "outside inference";
    auto paired_conv = makeWidthPairConv(*conv, dtype);
    c10::InferenceMode inference;
    ASSERT_TRUE(widthPairApplies(*conv, x));
    EXPECT_FALSE(widthPairApplies(*conv, x.narrow(3, 0, 9).contiguous(at::MemoryFormat::ChannelsLast)));
    const auto paired = paired_conv->forwardRelu(x);
    ASSERT_EQ(paired.sizes(), (std::vector<int64_t>{2, 16, 7, 5}));
    const auto y = unpairWidth(paired);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 8, 7, 10}));
    EXPECT_EQ(y.data_ptr(), paired.data_ptr()) << "a copy, not a view";
    EXPECT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast));
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1.0 / 256;
    const auto diff = (y.to(torch::kDouble) - expected).abs();
    EXPECT_TRUE((diff <= tolerance * (expected.abs() + 1)).all().item<bool>())
        << (dtype == torch::kFloat ? "fp32" : "bf16") << ": max diff " << diff.max().item<double>();
    EXPECT_GT(expected.gt(0).sum().item<int64_t>(), 100) << "the ReLU left too little to compare";
  }
  PackedConv2d strided(torch::nn::Conv2dOptions(16, 8, 3).stride(2).padding(1));
  c10::InferenceMode inference;
  EXPECT_FALSE(widthPairApplies(*strided, torch::randn({1, 16, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast)));
}

// Dilated convolutions in inference, fp32 and bf16, ReLU fused or not: equal to LibTorch's own
// convolution, within one bf16 rounding where oneDNN runs them as a batch of sub-images in another
// order of the same sums (dilated_as_batch.h: taken where oneDNN has no brgemm kernel for the dilated
// problem, here for bf16 on CPUs with AMX).
TEST_P(PackedConv2dPaths, DilatedConvolutionEqualsLibTorchs) {
  using derain::detail::PackedConv2d;
  torch::manual_seed(18);
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (int64_t d : {2, 4, 8}) {
      PackedConv2d conv(torch::nn::Conv2dOptions(32, 32, 3).padding(d).dilation(d));
      conv->to(dtype);
      const auto x = torch::randn({2, 32, 21, 30}).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
      at::Tensor reference, reference_relu;
      {
        torch::NoGradGuard no_grad;
        reference = conv->forward(x).to(torch::kFloat);
        reference_relu = torch::relu(conv->forward(x)).to(torch::kFloat);
      }
      at::Tensor packed, packed_relu;
      {
        c10::InferenceMode inference;
        packed = conv->forward(x).to(torch::kFloat);
        packed_relu = conv->forwardRelu(x).to(torch::kFloat);
      }
      const std::string where = std::string(dtype == torch::kFloat ? "fp32" : "bf16") + " d " + std::to_string(d) +
                                " sub-image packs " + std::to_string(conv->subImagePackCount());
      // One bf16 rounding of the largest output (2^-8 relative); float sums in another order for fp32.
      const float bound = (dtype == torch::kFloat ? 1e-5f : 1.0f / 256) * reference.abs().max().item<float>();
      EXPECT_LT((packed - reference).abs().max().item<float>(), bound) << where;
      EXPECT_LT((packed_relu - reference_relu).abs().max().item<float>(), bound) << where;
      EXPECT_EQ(packed_relu.lt(0).sum().item<int64_t>(), 0) << where;
    }
  }
}

// A bias left in fp32 beside bf16 weights is converted to bf16 for oneDNN (as a bf16 bias would
// be), not read as bf16 bits.
TEST(PackedConv2d, Fp32BiasBesideBf16WeightsIsConverted) {
  using derain::detail::OneDnnConv;
  using derain::detail::PackedConv2d;
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN's API";
  torch::manual_seed(9);
  PackedConv2d mixed(torch::nn::Conv2dOptions(16, 16, 3).padding(1)), twin(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  {
    torch::NoGradGuard no_grad;
    mixed->bias.uniform_(-4, 4);
    twin->weight.copy_(mixed->weight);
    twin->bias.copy_(mixed->bias);
  }
  mixed->weight.set_data(mixed->weight.data().to(torch::kBFloat16));  // the bias stays fp32
  twin->to(torch::kBFloat16);
  const auto x = torch::randn({1, 16, 9, 11}).to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  c10::InferenceMode inference;
  EXPECT_TRUE(torch::equal(mixed->forward(x), twin->forward(x)));
}

// The run observer (derain-int8-probe's list of a frame's convolutions) sees each run with the
// geometry the convolution was made for, and nothing once it is cleared.
TEST(OneDnnConv, RunObserverSeesEveryRunWithItsGeometry) {
  using derain::detail::ConvGeometry;
  using derain::detail::OneDnnConv;
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN's API";
  ConvGeometry g;
  g.in_channels = 4;
  g.out_channels = 8;
  g.height = 5;
  g.width = 7;
  g.kernel_h = g.kernel_w = 3;
  g.stride_w = 2;
  g.pad_h = g.pad_w = 1;
  g.dilation_h = 2;
  g.pad_bottom = 2;
  const std::vector<float> weight(8 * 4 * 3 * 3, 0.5f), src(4 * 5 * 7, 1.0f);
  const int64_t strides[4] = {36, 9, 3, 1};
  auto conv = OneDnnConv::make(g, derain::detail::ConvType::F32, derain::detail::ActivationLayout::NHWC, {},
                               weight.data(), strides, nullptr);
  ASSERT_TRUE(conv);
  std::vector<float> dst(8 * g.outputHeight() * g.outputWidth());
  ASSERT_EQ(g.outputHeight(), 4);  // (5 + 1 + 2 - 2 * 2 - 1) / 1 + 1
  ASSERT_EQ(g.outputWidth(), 4);   // (7 + 2 - 2 - 1) / 2 + 1
  std::vector<ConvGeometry> seen;
  OneDnnConv::setRunObserver(
      [](const ConvGeometry& geometry, void* context) {
        static_cast<std::vector<ConvGeometry>*>(context)->push_back(geometry);
      },
      &seen);
  conv->run(src.data(), dst.data(), nullptr);
  conv->run(src.data(), dst.data(), nullptr);
  OneDnnConv::setRunObserver(nullptr, nullptr);
  conv->run(src.data(), dst.data(), nullptr);
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& s : seen) {
    EXPECT_EQ(s.in_channels, 4);
    EXPECT_EQ(s.out_channels, 8);
    EXPECT_EQ(s.height, 5);
    EXPECT_EQ(s.width, 7);
    EXPECT_EQ(s.stride_w, 2);
    EXPECT_EQ(s.dilation_h, 2);
    EXPECT_EQ(s.padBottom(), 2);
  }
  // The centre output of the all-0.5 kernel over all-1 input away from the zero padding: 4 * 9 * 0.5.
  EXPECT_FLOAT_EQ(dst[8 * (1 * 4 + 1)], 18.0f);
}

// In inference the upsampling's transposed convolution runs as a 2x2 phase convolution: equal to the
// transposed one within float rounding (same sums, another order), remade when the weights change.
TEST(Upsample, PhaseConvolutionInferenceEqualsTheTransposedConvolution) {
  using derain::detail::Upsample;
  torch::manual_seed(3);
  Upsample up(32, 16);
  const auto x = torch::randn({1, 32, 23, 31}).contiguous(at::MemoryFormat::ChannelsLast);
  auto transposed = [&] {
    torch::NoGradGuard no_grad;  // not inference mode: the ConvTranspose2d path
    return up->forward(x);
  };
  auto phases = [&] {
    c10::InferenceMode inference;
    return up->forward(x);
  };
  at::Tensor reference = transposed(), fast = phases();
  ASSERT_EQ(fast.sizes(), reference.sizes());
  ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{1, 16, 46, 62}));
  const float scale = reference.abs().max().item<float>();
  EXPECT_LT((fast - reference).abs().max().item<float>(), 1e-5f * scale);
  EXPECT_GT(scale, 0.1f);
  {
    // NCHW input: the phases are interleaved by LibTorch's operators (interleavePhases), not the pass.
    c10::InferenceMode inference;
    const auto nchw = up->forward(x.contiguous());
    EXPECT_LT((nchw - reference).abs().max().item<float>(), 1e-5f * scale);
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& p : up->parameters()) p.mul_(-1.5);  // a training step, say
  }
  reference = transposed();
  fast = phases();
  EXPECT_LT((fast - reference).abs().max().item<float>(), 1e-5f * reference.abs().max().item<float>());
}

// In inference the ConvLSTM cell's element-wise part runs as one pass (lstm_pointwise.h): equal to
// LibTorch's operators within float rounding, over several steps of state. Two images take the
// whole gate tensor; one image takes it a band of rows at a time (rows of 1,400 pixels are 358 KB of
// gates, so 2 rows to a band and a last band of 1).
TEST(ConvLSTM, OnePassCellEqualsTheOperatorsWithinRounding) {
  using derain::detail::ConvLSTM;
  using derain::detail::LSTMState;
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (const auto& sizes : {std::vector<int64_t>{2, 16, 19, 27}, std::vector<int64_t>{1, 16, 7, 1400}}) {
    torch::manual_seed(12);
    ConvLSTM lstm(16, 16);
    const auto x = torch::randn(sizes).contiguous(cl);
    auto run = [&](bool inference) {
      c10::optional<c10::InferenceMode> mode;
      if (inference) mode.emplace();
      torch::NoGradGuard no_grad;
      LSTMState state{torch::zeros(sizes).contiguous(cl), torch::randn(sizes).contiguous(cl)};
      for (int step = 0; step < 3; ++step) state = lstm->forward(x * (step + 1), state);
      return std::make_pair(state.h.clone(), state.c.clone());
    };
    torch::manual_seed(13);
    const auto reference = run(false);
    torch::manual_seed(13);
    const auto fast = run(true);
    EXPECT_LT((fast.first - reference.first).abs().max().item<float>(), 2e-6f) << sizes;
    EXPECT_LT((fast.second - reference.second).abs().max().item<float>(),
              1e-5f * reference.second.abs().max().item<float>())
        << sizes;
    EXPECT_GT(reference.first.abs().max().item<float>(), 0.1f);
  }
}

// The step on an input the caller concatenated, writing h into the next step's input too: the same
// state as forward() bit for bit, h's channels of next_input equal to h, its other channels left as
// they were. On the banded cell (one image), the whole-gate cell (two) and the operators (outside
// inference), fp32 and bf16.
TEST_P(PackedConv2dPaths, LstmStepWritesItsHIntoTheNextInput) {
  using derain::detail::ConvLSTM;
  using derain::detail::LSTMState;
  const auto cl = at::MemoryFormat::ChannelsLast;
  constexpr int64_t kX = 9, kHidden = 16;  // x's channels unlike h's: the offset is x's width
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (int64_t batch : {1, 2}) {
      for (bool inference : {true, false}) {
        torch::manual_seed(17);
        ConvLSTM lstm(kX, kHidden);
        lstm->to(dtype);
        c10::optional<c10::InferenceMode> mode;
        if (inference) mode.emplace();
        torch::NoGradGuard no_grad;
        const auto x = torch::randn({batch, kX, 7, 23}).to(dtype).contiguous(cl);
        const LSTMState state{torch::randn({batch, kHidden, 7, 23}).to(dtype).contiguous(cl),
                              torch::randn({batch, kHidden, 7, 23}).to(dtype).contiguous(cl)};
        const auto plain = lstm->forward(x, state);
        auto next_input = torch::full({batch, kX + kHidden, 7, 23}, 7.0, x.options()).contiguous(cl);
        const auto input = torch::cat({x, state.h}, 1).contiguous(cl);
        const auto step = lstm->forwardConcatenated(input, state.c, next_input);
        const std::string where = std::string(dtype == torch::kFloat ? "fp32" : "bf16") + " batch " +
                                  std::to_string(batch) + (inference ? " inference" : " operators");
        EXPECT_TRUE(torch::equal(step.h, plain.h)) << where;
        EXPECT_TRUE(torch::equal(step.c, plain.c)) << where;
        EXPECT_TRUE(torch::equal(next_input.narrow(1, kX, kHidden), step.h)) << where;
        EXPECT_TRUE(next_input.narrow(1, 0, kX).eq(7.0).all().item<bool>()) << where << ": x's channels written";
        EXPECT_GT(step.h.abs().max().item<float>(), 0.1f) << where;
      }
    }
  }
}

// The U-ARSE in inference (each stage's h written into the next stage's input, the feature blocks
// consuming h, two input buffers taking turns) against its plain steps outside inference: equal within
// the one-pass cell's float rounding over four stages. A wrong channel offset, a buffer reused too early
// or a block writing over h before the LSTM read it would be off by whole activations.
TEST_P(PackedConv2dPaths, UarseInInferenceEqualsItsPlainSteps) {
  derain::AttentionConfig config;
  config.stages = 4;
  config.channels = 16;
  config.blocks = 2;
  torch::manual_seed(29);
  derain::detail::UARSE uarse(config);
  // One image takes the banded LSTM step: 1,400-pixel rows of 16-channel fp32 gates, 2 rows to a band.
  // Two take the whole-gate step.
  for (const auto& sizes : {std::vector<int64_t>{1, 3, 9, 1400}, std::vector<int64_t>{2, 3, 21, 34}}) {
    const int64_t batch = sizes[0];
    const auto image = (torch::rand(sizes) * 2 - 1).contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor plain, fast;
    {
      torch::NoGradGuard no_grad;
      plain = uarse->forward(image);
    }
    {
      c10::InferenceMode inference;
      fast = uarse->forward(image);
    }
    const float scale = plain.abs().max().item<float>();
    EXPECT_GT(scale, 0.01f);
    EXPECT_LT((fast - plain).abs().max().item<float>(), 1e-5f * std::max(scale, 1.0f)) << "batch " << batch;
  }
}

// The convolution a band of rows at a time: the bands put together are the whole convolution bit for
// bit (3x3 and 5x5, bands of 1 row to more than the image, padding rows at the top and bottom bands),
// and shapes the banded path does not take are refused, not computed wrongly.
TEST_P(PackedConv2dPaths, BandsOfRowsEqualTheWholeConvolution) {
  using derain::detail::OneDnnConv;
  using derain::detail::PackedConv2d;
  const auto cl = at::MemoryFormat::ChannelsLast;
  if (!OneDnnConv::available()) {  // no banded path: refused
    PackedConv2d conv(torch::nn::Conv2dOptions(8, 8, 3).padding(1));
    c10::InferenceMode inference;
    EXPECT_FALSE(conv->forwardInBands(torch::randn({1, 8, 9, 9}).contiguous(cl), 2,
                                      [](const torch::Tensor&, int64_t) { ADD_FAILURE() << "ran"; }));
    return;
  }
  for (int kernel : {3, 5}) {
    torch::manual_seed(40 + kernel);
    PackedConv2d conv(torch::nn::Conv2dOptions(8, 12, kernel).padding(kernel / 2));
    const auto x = torch::randn({1, 8, 11, 17}).contiguous(cl);
    c10::InferenceMode inference;
    const auto whole = conv->forward(x);
    for (int64_t rows : {1, 2, 4, 11, 40}) {
      auto assembled = torch::full_like(whole, std::nanf(""));
      int64_t bands = 0;
      ASSERT_TRUE(conv->forwardInBands(x, rows, [&](const torch::Tensor& band, int64_t first) {
        EXPECT_TRUE(band.is_contiguous(cl));
        assembled.narrow(2, first, band.size(2)).copy_(band);
        ++bands;
      }));
      EXPECT_EQ(bands, (11 + std::min<int64_t>(rows, 11) - 1) / std::min<int64_t>(rows, 11));
      EXPECT_TRUE(torch::equal(assembled, whole)) << "kernel " << kernel << ", bands of " << rows << " rows";
    }
  }
  PackedConv2d strided(torch::nn::Conv2dOptions(8, 8, 3).stride(2).padding(1));
  c10::InferenceMode inference;
  auto never = [](const torch::Tensor&, int64_t) { ADD_FAILURE() << "a refused shape was run"; };
  EXPECT_FALSE(strided->forwardInBands(torch::randn({1, 8, 9, 9}).contiguous(cl), 2, never));
  PackedConv2d plain(torch::nn::Conv2dOptions(8, 8, 3).padding(1));
  EXPECT_FALSE(plain->forwardInBands(torch::randn({2, 8, 9, 9}).contiguous(cl), 2, never));  // two images
  EXPECT_FALSE(plain->forwardInBands(torch::randn({1, 8, 9, 9}), 2, never));                // NCHW
}

TEST_P(PackedConv2dPaths, EqualsThePlainConvolutionAndFollowsWeightChanges) {
  using derain::detail::PackedConv2d;
  struct Case {
    int in, out, kernel, stride, padding, dilation;
  };
  for (const Case& c : {Case{4, 16, 3, 1, 1, 1}, Case{16, 32, 3, 2, 1, 1}, Case{32, 32, 3, 1, 4, 4},
                        Case{4, 8, 5, 1, 2, 1}, Case{24, 8, 1, 1, 0, 1}}) {
    torch::manual_seed(c.in * 100 + c.kernel);
    PackedConv2d conv(torch::nn::Conv2dOptions(c.in, c.out, c.kernel)
                          .stride(c.stride).padding(c.padding).dilation(c.dilation));
    const auto x = torch::randn({1, c.in, 37, 29}).contiguous(at::MemoryFormat::ChannelsLast);
    // LibTorch's own oneDNN convolution of the same problem. Not conv->forward outside inference:
    // for small inputs LibTorch 1.13 takes an im2col + BLAS path there, whose sums agree with oneDNN's
    // to the last bit on some CPUs and not on others (1 ulp on an AMD EPYC).
    auto plainConvolution = [&] {
      torch::NoGradGuard no_grad;
      return at::mkldnn_convolution(x, conv->weight, conv->bias, {c.padding, c.padding}, {c.stride, c.stride},
                                    {c.dilation, c.dilation}, 1);
    };
    at::Tensor plain = plainConvolution(), packed, packed_again;
    {
      c10::InferenceMode inference;
      packed = conv->forward(x);
      packed_again = conv->forward(x);  // from the cached pack
    }
    ASSERT_EQ(conv->packCount(), 1u) << "the packed path was not taken";
    EXPECT_TRUE(torch::equal(plain, packed)) << "kernel " << c.kernel << " stride " << c.stride << " dilation "
                                              << c.dilation << ": max diff "
                                              << (plain - packed).abs().max().item<float>();
    EXPECT_TRUE(torch::equal(packed, packed_again));
    {
      torch::NoGradGuard no_grad;
      conv->weight.mul_(2.0);  // an optimiser step, say: the pack must not be reused
    }
    plain = plainConvolution();
    c10::InferenceMode inference;
    EXPECT_TRUE(torch::equal(plain, conv->forward(x))) << "stale pack after a weight change";
    EXPECT_EQ(conv->packCount(), 2u);  // packed again for the new weights
  }
}

// A residual block's end, ReLU(conv(x) [ReLU] + r), fused into the convolution's store: bit for bit
// the steps done apart in fp32, with and without the first ReLU; the consuming form writes over r's
// memory (with oneDNN's API: no new tensor), the plain form leaves r alone, and r == x (memory the
// convolution reads) is never written over.
TEST_P(PackedConv2dPaths, FusedResidualAddEqualsTheStepsApart) {
  using derain::detail::OneDnnConv;
  using derain::detail::PackedConv2d;
  torch::manual_seed(21);
  PackedConv2d conv(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  const auto x = torch::randn({1, 16, 31, 43}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto r = torch::randn({1, 16, 31, 43}).contiguous(at::MemoryFormat::ChannelsLast);
  for (bool relu_first : {true, false}) {
    at::Tensor apart, apart_self;  // plain LibTorch operators, one step at a time
    {
      torch::NoGradGuard no_grad;
      auto y = conv->forward(x);
      if (relu_first) y = torch::relu(y);
      apart = torch::relu(y + r);
      apart_self = torch::relu(y + x);
    }
    c10::InferenceMode inference;
    const auto r_before = r.clone();
    const auto fused = conv->forwardAddRelu(x, r, relu_first);
    EXPECT_TRUE(torch::equal(fused, apart)) << "relu_first " << relu_first << ": max diff "
                                            << (fused - apart).abs().max().item<float>();
    EXPECT_TRUE(torch::equal(r, r_before)) << "the plain form wrote over its residual";
    auto given_up = r.clone();
    const void* memory = given_up.data_ptr();
    const auto consumed = conv->forwardAddReluConsuming(x, given_up, relu_first);
    EXPECT_TRUE(torch::equal(consumed, apart)) << "relu_first " << relu_first << ": max diff "
                                               << (consumed - apart).abs().max().item<float>();
    if (OneDnnConv::available()) {
      EXPECT_EQ(consumed.data_ptr(), memory) << "not accumulated in place";
    }
    auto self = x.clone();
    EXPECT_TRUE(torch::equal(conv->forwardAddReluConsuming(self, self, relu_first), apart_self))
        << "residual and input the same memory";
    EXPECT_GT(apart.eq(0).sum().item<int64_t>(), 0);  // the last ReLU clipped something
  }
}

// bf16 through oneDNN's API: the fused store rounds once where the steps apart round twice, so it is
// within one bf16 rounding (2^-8 relative) of the same block computed in fp32 from the same bf16
// values (the steps apart are not: this bound fails on them). Through LibTorch's prepacked ops the
// add is a pass of its own: the bf16 steps apart, bit for bit.
TEST_P(PackedConv2dPaths, FusedResidualAddInBf16RoundsOnce) {
  using derain::detail::PackedConv2d;
  torch::manual_seed(22);
  PackedConv2d conv(torch::nn::Conv2dOptions(32, 32, 3).padding(1));
  conv->to(torch::kBFloat16);
  const auto x = torch::randn({1, 32, 27, 38}).to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  const auto r = torch::randn({1, 32, 27, 38}).to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor exact, apart;
  {
    torch::NoGradGuard no_grad;
    auto y = torch::conv2d(x.to(torch::kFloat), conv->weight.to(torch::kFloat), conv->bias.to(torch::kFloat), 1, 1);
    exact = torch::relu(torch::relu(y) + r.to(torch::kFloat));
    apart = torch::relu(torch::relu(conv->forward(x)) + r).to(torch::kFloat);
  }
  c10::InferenceMode inference;
  const auto fused = conv->forwardAddRelu(x, r, true).to(torch::kFloat);
  const auto consumed = conv->forwardAddReluConsuming(x, r.clone(), true).to(torch::kFloat);
  EXPECT_TRUE(torch::equal(fused, consumed));
  if (!derain::detail::OneDnnConv::available()) {
    EXPECT_TRUE(torch::equal(fused, apart)) << "max diff " << (fused - apart).abs().max().item<float>();
    return;
  }
  const auto bound = exact.abs() * (1.0 / 256) + 1e-3;
  EXPECT_TRUE((fused - exact).abs().le(bound).all().item<bool>())
      << "max diff " << (fused - exact).abs().max().item<float>();
  EXPECT_FALSE((apart - exact).abs().le(bound).all().item<bool>()) << "the bound does not tell one rounding from two";
}

// A chain of residual blocks run in inference, each after the first writing over the features the
// one before made: bit for bit the Sequential's plain forward in fp32, the caller's input untouched.
TEST_P(PackedConv2dPaths, FeatureBlockChainInPlaceEqualsTheSequentialAndKeepsItsInput) {
  using namespace derain::detail;
  torch::manual_seed(23);
  for (int count : {1, 3}) {
    auto blocks = makeFeatureBlocks(derain::FeatureBlock::Residual, 16, count);
    // Over 20,480 values: below that LibTorch 1.13's plain forward takes im2col + BLAS instead of
    // oneDNN, whose sums differ from oneDNN's in the last bit on some CPUs (an AMD EPYC).
    const auto x = torch::randn({1, 16, 41, 37}).contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor plain;
    {
      torch::NoGradGuard no_grad;
      plain = blocks->forward(x);
    }
    c10::InferenceMode inference;
    const auto x_before = x.clone();
    const auto chained = runFeatureBlocks(blocks, x);
    EXPECT_TRUE(torch::equal(chained, plain)) << count << " blocks: max diff "
                                              << (chained - plain).abs().max().item<float>();
    EXPECT_TRUE(torch::equal(x, x_before)) << "the caller's features were written over";
    // Given up by the caller: the same result, the first block's add written over the given memory
    // where oneDNN's API is in use (LibTorch's prepacked ops have no in-place add).
    auto given = x.clone();
    const void* given_memory = given.data_ptr();
    const auto consumed = runFeatureBlocksConsuming(blocks, std::move(given));
    EXPECT_TRUE(torch::equal(consumed, plain)) << count << " blocks, consuming: max diff "
                                               << (consumed - plain).abs().max().item<float>();
    if (OneDnnConv::available() && count == 1) {
      EXPECT_EQ(consumed.data_ptr(), given_memory);
    }
  }
}
