// Precision int8: the activations' quantisation bit for bit against a scalar reference, the int8
// convolution against the same arithmetic in double (levels times steps, then the epilogue), the
// packed convolutions' switch to int8 under an Int8Scope, and the engine's int8 precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "nets/int8_quantise.h"
#include "nets/int8_scope.h"
#include "nets/onednn_conv.h"
#include "nets/packed_conv.h"
#include "test_support.h"

namespace {

using derain::detail::Int8Grid;

uint16_t bf16Bits(float v) { return c10::BFloat16(v).x; }
float bf16Value(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float v;
  std::memcpy(&v, &wide, sizeof v);
  return v;
}

// What quantiseBf16 must do, written plainly: the grid from the largest magnitudes, each value's
// nearest level (std::nearbyint: ties to even), clamped.
std::vector<uint8_t> referenceLevels(const std::vector<uint16_t>& bits, Int8Grid* grid_out) {
  float highest = 0, lowest = 0;
  for (uint16_t b : bits) {
    highest = std::max(highest, bf16Value(b));
    lowest = std::min(lowest, bf16Value(b));
  }
  const bool is_signed = lowest < 0;
  const float peak = std::max(highest, -lowest);
  int exponent = 0;
  if (peak > 0) exponent = static_cast<int>(std::ceil(std::log2(static_cast<double>(peak))));
  const double max_level = is_signed ? 127 : 255;
  std::vector<uint8_t> out;
  for (uint16_t b : bits) {
    double level = std::nearbyint(static_cast<double>(bf16Value(b)) * max_level / std::ldexp(1.0, exponent));
    level = std::clamp(level, is_signed ? -127.0 : 0.0, max_level);
    out.push_back(static_cast<uint8_t>(static_cast<int>(level)));
  }
  grid_out->is_signed = is_signed;
  grid_out->exponent = exponent;
  return out;
}

void expectQuantisedAsReference(const std::vector<uint16_t>& bits, const char* what) {
  Int8Grid expected_grid;
  const auto expected = referenceLevels(bits, &expected_grid);
  std::vector<uint8_t> out(bits.size(), 0xAA);
  const Int8Grid grid = derain::detail::quantiseBf16(bits.data(), static_cast<int64_t>(bits.size()), out.data());
  EXPECT_EQ(grid.is_signed, expected_grid.is_signed) << what;
  EXPECT_EQ(grid.exponent, expected_grid.exponent) << what;
  ASSERT_EQ(out.size(), expected.size());
  size_t wrong = 0;
  for (size_t i = 0; i < out.size(); ++i) wrong += out[i] != expected[i];
  EXPECT_EQ(wrong, 0u) << what;
}

std::vector<uint16_t> randomBits(size_t n, float low, float high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(low, high);
  std::vector<uint16_t> bits(n);
  for (auto& b : bits) b = bf16Bits(value(rng));
  return bits;
}

}  // namespace

TEST(Int8Quantise, GridAndLevelsMatchTheScalarReference) {
  at::set_num_threads(2);
  // Unsigned (no value below zero) and signed, one value to several threads' worth (odd counts).
  expectQuantisedAsReference(randomBits(1, 0.0f, 3.0f, 1), "one value");
  expectQuantisedAsReference(randomBits(7, 0.0f, 3.0f, 2), "seven unsigned");
  expectQuantisedAsReference(randomBits(7, -0.3f, 0.2f, 3), "seven signed");
  expectQuantisedAsReference(randomBits(100003, 0.0f, 37.0f, 4), "100003 unsigned");
  expectQuantisedAsReference(randomBits(100003, -5.0f, 1.0f, 5), "100003 signed");
  expectQuantisedAsReference(std::vector<uint16_t>(1000, 0), "all zero");
}

TEST(Int8Quantise, HandPickedValues) {
  // Peak 1.0 is a power of two: the grid is 1/255 and 1.0 lands on level 255 exactly.
  // 0.5 * 255 = 127.5: a tie, to the even level 128. -0 is not negative: the grid stays unsigned.
  const std::vector<uint16_t> unsigned_bits{bf16Bits(1.0f), bf16Bits(0.5f), bf16Bits(-0.0f), bf16Bits(0.0f)};
  std::vector<uint8_t> out(4);
  Int8Grid grid = derain::detail::quantiseBf16(unsigned_bits.data(), 4, out.data());
  EXPECT_FALSE(grid.is_signed);
  EXPECT_EQ(grid.exponent, 0);
  EXPECT_FLOAT_EQ(grid.scale(), 1.0f / 255);
  EXPECT_EQ(out, (std::vector<uint8_t>{255, 128, 0, 0}));
  // Peak 3 (-3): grid 4/127; -3 * 127 / 4 = -95.25 -> -95 (0xA1 as s8 bits); 1.5 -> 47.625 -> 48.
  const std::vector<uint16_t> signed_bits{bf16Bits(-3.0f), bf16Bits(1.5f)};
  grid = derain::detail::quantiseBf16(signed_bits.data(), 2, out.data());
  EXPECT_TRUE(grid.is_signed);
  EXPECT_EQ(grid.exponent, 2);
  EXPECT_EQ(out[0], static_cast<uint8_t>(-95));
  EXPECT_EQ(out[1], 48);
}

namespace {

// The int8 convolution's arithmetic in double: the source on its grid, each output channel's
// weights on theirs (largest magnitude -> 127), the sums exact, plus the bias, then the epilogue.
torch::Tensor int8Reference(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                            const torch::Tensor* residual, bool relu_first) {
  const auto xd = x.to(torch::kDouble);
  const double highest = xd.max().item<double>(), lowest = xd.min().item<double>();
  const Int8Grid grid = Int8Grid::forRange(static_cast<float>(std::max(highest, 0.0)),
                                           static_cast<float>(std::max(-lowest, 0.0)));
  const double step = grid.scale();
  // value * levels / 2^e is exact in double; value / step would not be (a tie could round away).
  const auto xq = (xd * (grid.maxLevel() / std::ldexp(1.0, grid.exponent))).round().clamp(grid.is_signed ? -127 : 0,
                                                                                           grid.maxLevel()) * step;
  // The weights' steps and levels in float, as they are made (a quotient near a tie rounds the way
  // float's does).
  const auto wf = w.to(torch::kFloat);
  const auto w_step = wf.abs().amax({1, 2, 3}, true) / 127.0f;
  const auto wq = ((wf / w_step).round().clamp(-127, 127) * w_step).to(torch::kDouble);
  auto y = torch::conv2d(xq, wq, b.to(torch::kDouble), 1, 1);
  if (relu_first) y = y.relu();
  if (residual) y = (y + residual->to(torch::kDouble)).relu();
  return y;
}

// The output against the reference within what the float scaling and the bf16 output's rounding
// leave (the integer sums are exact): the nearest bf16 value, or its neighbour where the float result
// and the exact one fall on either side of the midpoint; one bf16 step, 2^-7 of the value at most.
void expectWithinOneBf16Step(const torch::Tensor& got_bf16, const torch::Tensor& expected, const std::string& where) {
  const auto got = got_bf16.to(torch::kDouble);
  const auto error = (got - expected).abs() - expected.abs() * std::ldexp(1.0, -7);
  EXPECT_LT(error.max().item<double>(), 1e-4) << where;
  EXPECT_GT(expected.abs().max().item<double>(), 1.0) << where;
}

// A 16 -> 24 3x3 convolution (padding 1) on a 13x9 source, bf16 weights and bias drawn from a seed,
// made as ConvType::Int8 with the given epilogue.
struct SmallInt8Conv {
  static constexpr int64_t in = 16, out_channels = 24, height = 9, width = 13;
  torch::Tensor w, b;
  derain::detail::ConvGeometry g;
  explicit SmallInt8Conv(uint64_t seed) {
    torch::manual_seed(seed);
    w = (torch::randn({out_channels, in, 3, 3}) * 0.2).to(torch::kBFloat16);
    b = (torch::randn({out_channels}) * 0.5).to(torch::kBFloat16);
    g.in_channels = in, g.out_channels = out_channels, g.height = height, g.width = width;
    g.kernel_h = g.kernel_w = 3, g.pad_h = g.pad_w = 1;
  }
  std::unique_ptr<derain::detail::OneDnnConv> make(derain::detail::ConvEpilogue epilogue) const {
    const auto ws = w.strides();
    return derain::detail::OneDnnConv::make(g, derain::detail::ConvType::Int8, derain::detail::ActivationLayout::NHWC,
                                            epilogue, w.data_ptr(), ws.data(), b.data_ptr());
  }
};

}  // namespace

TEST(Int8Convolution, EqualsItsArithmeticInDoubleWithEveryEpilogue) {
  using derain::detail::ConvEpilogue;
  if (!derain::detail::OneDnnConv::int8Available()) GTEST_SKIP() << "no int8 convolutions on this machine or build";
  const SmallInt8Conv small(21);
  const torch::Tensor &w = small.w, &b = small.b;
  constexpr int64_t in = SmallInt8Conv::in, out_channels = SmallInt8Conv::out_channels,
                    height = SmallInt8Conv::height, width = SmallInt8Conv::width;
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (bool is_signed : {false, true}) {
    auto x = torch::randn({1, in, height, width}) * 3;
    if (!is_signed) x = x.relu();
    x = x.to(torch::kBFloat16).contiguous(cl);
    const auto residual = (torch::randn({1, out_channels, height, width})).to(torch::kBFloat16).contiguous(cl);
    struct Case {
      ConvEpilogue epilogue;
      bool uses_residual;
    };
    for (const Case& c : {Case{ConvEpilogue{}, false}, Case{ConvEpilogue{true, false, false}, false},
                          Case{ConvEpilogue{true, true, false}, true}, Case{ConvEpilogue{false, true, true}, true}}) {
      auto conv = small.make(c.epilogue);
      ASSERT_TRUE(conv);
      auto dst = torch::empty({1, out_channels, height, width}, x.options(), cl);
      if (c.epilogue.in_place) dst.copy_(residual);
      conv->run(x.data_ptr(), dst.data_ptr(),
                c.uses_residual && !c.epilogue.in_place ? residual.data_ptr() : nullptr);
      const auto expected = int8Reference(x, w, b, c.uses_residual ? &residual : nullptr, c.epilogue.relu);
      const std::string where = std::string(is_signed ? "signed" : "unsigned") + " source, relu " +
                                std::to_string(c.epilogue.relu) + " residual " + std::to_string(c.uses_residual) +
                                " in place " + std::to_string(c.epilogue.in_place);
      expectWithinOneBf16Step(dst, expected, where);
      if (c.epilogue.relu || c.uses_residual) {
        EXPECT_EQ(dst.lt(0).sum().item<int64_t>(), 0) << where;
      }
    }
  }
}

// One convolution whose source's range moves from run to run (brighter, then signed and small, then
// as at first) follows each grid exactly, with one oneDNN convolution per source sign: the grid's
// power of two and the bias in its units are given at run time, so a new grid mid-stream makes none.
TEST(Int8Convolution, OneConvolutionFollowsItsSourceAcrossGrids) {
  if (!derain::detail::OneDnnConv::int8Available()) GTEST_SKIP() << "no int8 convolutions on this machine or build";
  const SmallInt8Conv small(23);
  const torch::Tensor &w = small.w, &b = small.b;
  constexpr int64_t in = SmallInt8Conv::in, out_channels = SmallInt8Conv::out_channels,
                    height = SmallInt8Conv::height, width = SmallInt8Conv::width;
  auto conv = small.make(derain::detail::ConvEpilogue{});
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->primitiveCount(), 1);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto first = (torch::randn({1, in, height, width}).relu() * 3).to(torch::kBFloat16).contiguous(cl);
  struct Step {
    torch::Tensor source;
    const char* what;
    int primitives;  // after the run
  };
  const Step steps[] = {
      {first, "unsigned, peak ~ 8", 1},
      {(first.to(torch::kFloat) * 40).to(torch::kBFloat16).contiguous(cl), "unsigned, 40x brighter", 1},
      {(torch::randn({1, in, height, width}) * 0.05).to(torch::kBFloat16).contiguous(cl), "signed, small", 2},
      {first, "the first source again", 2},
  };
  std::vector<torch::Tensor> outputs;
  Int8Grid before{false, 1000};
  for (const Step& step : steps) {
    auto dst = torch::empty({1, out_channels, height, width}, step.source.options(), cl);
    conv->run(step.source.data_ptr(), dst.data_ptr(), nullptr);
    expectWithinOneBf16Step(dst, int8Reference(step.source, w, b, nullptr, false), step.what);
    EXPECT_EQ(conv->primitiveCount(), step.primitives) << step.what;
    const auto values = step.source.to(torch::kFloat);
    const Int8Grid grid = Int8Grid::forRange(std::max(values.max().item<float>(), 0.0f),
                                             std::max(-values.min().item<float>(), 0.0f));
    EXPECT_NE(grid, before) << step.what << ": each step must move the grid";
    before = grid;
    outputs.push_back(dst);
  }
  EXPECT_TRUE(torch::equal(outputs[3], outputs[0])) << "the first grid's power and bias restored exactly";
}

// Under an Int8Scope a bf16 packed convolution runs in int8 (close to bf16, not equal to it); outside
// it the bf16 pack is kept apart and gives its result bit for bit as before.
TEST(Int8Convolution, PackedConvolutionSwitchesUnderTheScopeOnly) {
  using derain::detail::Int8Scope;
  using derain::detail::OneDnnConv;
  using derain::detail::PackedConv2d;
  if (!OneDnnConv::int8Available()) GTEST_SKIP() << "no int8 convolutions on this machine or build";
  torch::manual_seed(22);
  PackedConv2d conv(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  conv->to(torch::kBFloat16);
  const auto x = torch::rand({1, 16, 20, 24}).to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  c10::InferenceMode inference;
  const auto bf16 = conv->forward(x);
  at::Tensor int8;
  {
    Int8Scope scope(true);
    EXPECT_TRUE(Int8Scope::active());
    int8 = conv->forward(x);
  }
  EXPECT_FALSE(Int8Scope::active());
  const auto again = conv->forward(x);
  EXPECT_TRUE(torch::equal(again, bf16));
  EXPECT_FALSE(torch::equal(int8, bf16));
  const double scale = bf16.abs().max().item<double>();
  EXPECT_LT((int8 - bf16).abs().max().item<double>(), 0.03 * scale);
  EXPECT_EQ(conv->packCount(), 2u);
}

TEST(Int8Engine, DerainsCloseToFp32AndNamesItsPrecision) {
  if (!derain::detail::OneDnnConv::int8Available()) GTEST_SKIP() << "no int8 convolutions on this machine or build";
  const std::string model = derain::defaultModelPath();  // trained activations, not random ones
  if (model.empty()) GTEST_SKIP() << "no shipped model found";
  derain::EngineOptions options;
  options.device = derain::Device::CPU;
  options.threads = 2;
  derain::Engine fp32(model, options);
  options.precision = derain::Precision::BF16;
  derain::Engine bf16(model, options);
  options.precision = derain::Precision::INT8;
  derain::Engine int8(model, options);
  EXPECT_EQ(int8.precision(), derain::Precision::INT8);
  EXPECT_NE(int8.describe().find("int8"), std::string::npos) << int8.describe();
  const cv::Mat rainy = derain::test::makeRainyScene(96, 64, 7);
  cv::Mat a, b;
  fp32.derain(rainy, a);
  int8.derain(rainy, b);
  const double psnr = cv::PSNR(a, b);
  EXPECT_GT(psnr, 40.0);  // 8-bit output: the two differ by a level here and there
  EXPECT_LT(psnr, 300.0) << "int8 gave exactly the fp32 output: not int8";
  cv::Mat plain_bf16;
  bf16.derain(rainy, plain_bf16);
  EXPECT_GT(cv::norm(b, plain_bf16, cv::NORM_INF), 0.0) << "int8 gave exactly the bf16 output: its convolutions did not run";
  cv::Mat again;
  int8.derain(rainy, again);
  EXPECT_EQ(cv::norm(b, again, cv::NORM_INF), 0.0) << "the same frame twice: the grids depend only on it";
}

TEST(Int8Engine, RefusedWithAReasonWhereItCannotRun) {
  derain::EngineOptions options;
  options.device = derain::Device::CPU;
  options.precision = derain::Precision::INT8;
  derain::detail::OneDnnConv::setEnabled(false);  // as a build without oneDNN's API
  try {
    derain::Engine::untrained(derain::test::tinyConfig(), 1, options);
    ADD_FAILURE() << "no error";
  } catch (const derain::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no oneDNN API"), std::string::npos) << e.what();
  }
  derain::detail::OneDnnConv::setEnabled(true);
}
