// Inference API: sizes, types, channel order, tiling, precision, threads, devices, bad input.
#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/inference_library.hpp"
#include "model_file.h"
#include "tiling.h"

#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include "test_support.h"

using derain::ColorOrder;
using derain::Engine;
using derain::EngineOptions;
using derain::test::TempDir;

namespace {
// A lite model with He-scaled weights: outputs vary strongly over the frame.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("he.derain");
    derain::test::writeHeScaledModel(path_, derain::ModelConfig::lite(), 21);
  }
  Engine load(EngineOptions options = {}) {
    options.device = derain::Device::CPU;
    return Engine(path_, options);
  }
  TempDir dir_;
  std::string path_;
};

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::Scalar m = cv::mean(diff);
  return (m[0] + m[1] + m[2]) / 3.0;
}

double spread(const cv::Mat& image) {
  cv::Scalar mean, stddev;
  cv::meanStdDev(image.reshape(1), mean, stddev);
  return stddev[0];
}
}  // namespace

TEST_F(EngineTest, OddSizesComeBackAtTheirSize) {
  Engine engine = load();
  for (cv::Size size : {cv::Size(323, 241), cv::Size(1, 1), cv::Size(5, 3), cv::Size(2, 17)}) {
    cv::Mat image = derain::test::makeRainyScene(size.width, size.height, 3), out;
    engine.derain(image, out);
    EXPECT_EQ(out.size(), size);
    EXPECT_EQ(out.type(), CV_8UC3);
    engine.rainmake(image, out);
    EXPECT_EQ(out.size(), size);
    cv::Mat mask;
    engine.attention(image, mask);
    EXPECT_EQ(mask.size(), size);
    EXPECT_EQ(mask.type(), CV_32FC1);
  }
}

TEST_F(EngineTest, OutputDependsOnTheImageAndVariesOverTheFrame) {
  Engine engine = load();
  cv::Mat a = derain::test::makeRainyScene(96, 64, 1), b = derain::test::makeRainyScene(96, 64, 2), oa, ob;
  engine.derain(a, oa);
  engine.derain(b, ob);
  EXPECT_GT(spread(oa), 5.0);  // not a constant image: the tiling/precision tests below mean something
  EXPECT_GT(meanAbsDiff(oa, ob), 0.1);
}

TEST_F(EngineTest, DeterministicAcrossCallsAndEngines) {
  Engine first = load(), second = load();
  cv::Mat image = derain::test::makeRainyScene(64, 48, 4), o1, o2, o3;
  first.derain(image, o1);
  first.derain(image, o2);
  second.derain(image, o3);
  EXPECT_EQ(cv::norm(o1, o2, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(o1, o3, cv::NORM_INF), 0.0);
}

TEST_F(EngineTest, RgbAndBgrAreTheSameImage) {
  Engine engine = load();
  cv::Mat bgr = derain::test::makeRainyScene(48, 40, 5), rgb, out_bgr, out_rgb, back;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  engine.derain(bgr, out_bgr, ColorOrder::BGR);
  engine.derain(rgb, out_rgb, ColorOrder::RGB);
  cv::cvtColor(out_rgb, back, cv::COLOR_RGB2BGR);
  EXPECT_EQ(cv::norm(out_bgr, back, cv::NORM_INF), 0.0);
}

TEST_F(EngineTest, FloatInputMatchesBytesWithinRounding) {
  Engine engine = load();
  cv::Mat bytes = derain::test::makeRainyScene(40, 32, 6), floats, out_b, out_f;
  bytes.convertTo(floats, CV_32FC3, 1.0 / 255.0);
  engine.derain(bytes, out_b);
  engine.derain(floats, out_f);
  ASSERT_EQ(out_f.type(), CV_32FC3);
  double min_v, max_v;
  cv::minMaxLoc(out_f.reshape(1), &min_v, &max_v);
  EXPECT_GE(min_v, 0.0);
  EXPECT_LE(max_v, 1.0);
  cv::Mat as_bytes;
  out_f.convertTo(as_bytes, CV_8UC3, 255.0);
  EXPECT_LE(cv::norm(as_bytes, out_b, cv::NORM_INF), 1.0);
}

TEST_F(EngineTest, TiledMatchesUntiledWithinTolerance) {
  // Stated tolerance: with 192-pixel tiles overlapping by 95, the lite model's tiled output differs
  // from the whole-frame output by < 2 grey levels on average and by > 8 levels on < 5% of pixels.
  // Seams cannot be exact (the receptive field is wider than any practical overlap), but the error
  // must shrink as the overlap grows. These weights are random and He-scaled, a harsher case than a
  // trained model, whose outputs depend on far context much less.
  cv::Mat image = derain::test::makeRainyScene(320, 240, 7), whole;
  load().derain(image, whole);
  auto tiledWithOverlap = [&](int overlap) {
    EngineOptions options;
    options.tile_size = 192;
    options.tile_overlap = overlap;
    cv::Mat tiled;
    load(options).derain(image, tiled);
    return tiled;
  };
  cv::Mat narrow = tiledWithOverlap(16), wide = tiledWithOverlap(95);
  const double narrow_error = meanAbsDiff(whole, narrow), wide_error = meanAbsDiff(whole, wide);
  EXPECT_LT(wide_error, 2.0);
  EXPECT_LT(wide_error, narrow_error);
  cv::Mat diff, big;
  cv::absdiff(whole, wide, diff);
  cv::threshold(diff.reshape(1), big, 8, 1, cv::THRESH_BINARY);
  EXPECT_LT(cv::countNonZero(big), 0.05 * big.total());
  EXPECT_GT(cv::norm(whole, wide, cv::NORM_INF), 0.0);  // it really tiled
  std::cout << "tiling error (mean abs, 8-bit levels): overlap 16 " << narrow_error << ", overlap 95 " << wide_error
            << "\n";
}

// One pass for the derained frame and its attention mask: both equal the separate calls bit for
// bit, whole-frame and in tiles (where the mask is assembled from the tiles the same way).
TEST_F(EngineTest, DerainWithAttentionEqualsDerainAndAttentionExactly) {
  const cv::Mat image = derain::test::makeRainyScene(200, 150, 9);
  for (int tile_size : {0, 96}) {
    EngineOptions options;
    options.tile_size = tile_size;
    Engine engine = load(options);
    cv::Mat derained, mask, both_derained, both_mask;
    engine.derain(image, derained);
    engine.attention(image, mask);
    engine.derainWithAttention(image, both_derained, both_mask);
    ASSERT_EQ(both_derained.type(), CV_8UC3);
    ASSERT_EQ(both_mask.type(), CV_32FC1);
    ASSERT_EQ(both_mask.size(), image.size());
    EXPECT_EQ(cv::norm(both_derained, derained, cv::NORM_INF), 0.0) << "tile size " << tile_size;
    EXPECT_EQ(cv::norm(both_mask, mask, cv::NORM_INF), 0.0) << "tile size " << tile_size;
    EXPECT_GT(cv::norm(mask, cv::NORM_INF), 0.0);
  }
}

// EngineOptions::grey_rain (default): the removed layer is grey — equal in every channel within 8-bit
// rounding — and (unbounded) has the luma G_N's own removed layer has, so the Y channel is G_N's.
TEST_F(EngineTest, GreyRainLayerIsGreyAndKeepsTheGeneratorsLuma) {
  const cv::Mat image = derain::test::makeRainyScene(96, 64, 5);
  EngineOptions raw_options, grey_options;
  raw_options.grey_rain = false;
  grey_options.bounded_rain = false;
  ASSERT_TRUE(EngineOptions().grey_rain);
  cv::Mat grey, raw;
  load(grey_options).derain(image, grey);
  load(raw_options).derain(image, raw);
  ASSERT_GT(cv::norm(grey, raw, cv::NORM_INF), 2.0) << "the option changed nothing";
  int checked = 0, off_grey = 0, off_luma = 0;
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b in = image.at<cv::Vec3b>(y, x), g = grey.at<cv::Vec3b>(y, x), r = raw.at<cv::Vec3b>(y, x);
      bool clipped = false;
      for (int c = 0; c < 3; ++c) clipped |= g[c] == 0 || g[c] == 255 || r[c] == 0 || r[c] == 255;
      if (clipped) continue;
      ++checked;
      int lo = 1000, hi = -1000;
      for (int c = 0; c < 3; ++c) {
        lo = std::min(lo, in[c] - g[c]);
        hi = std::max(hi, in[c] - g[c]);
      }
      off_grey += hi - lo > 1;  // each channel rounds on its own: at most 1 level apart
      auto luma = [](const cv::Vec3b& p) { return 0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2]; };  // BGR
      off_luma += std::abs(luma(g) - luma(r)) > 1.0;
    }
  ASSERT_GT(checked, image.rows * image.cols / 2);
  EXPECT_EQ(off_grey, 0);
  EXPECT_EQ(off_luma, 0);
}

// EngineOptions::bounded_rain (default): the grey layer never brightens a pixel nor takes it below the
// darkest input luma within 3 pixels in its row (8-bit rounding: 1 level), and where the unbounded
// layer already keeps those limits the two outputs agree.
TEST_F(EngineTest, BoundedRainNeverBrightensNorDigsBelowTheRowBackground) {
  const cv::Mat image = derain::test::makeRainyScene(96, 64, 5);
  ASSERT_TRUE(EngineOptions().bounded_rain);
  EngineOptions unbounded_options;
  unbounded_options.bounded_rain = false;
  cv::Mat bounded, unbounded;
  load().derain(image, bounded);
  load(unbounded_options).derain(image, unbounded);
  auto luma = [](const cv::Vec3b& p) { return 0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2]; };  // BGR
  int brightened = 0, dug = 0, clamped = 0, moved_inside = 0;
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b in = image.at<cv::Vec3b>(y, x), b = bounded.at<cv::Vec3b>(y, x), u = unbounded.at<cv::Vec3b>(y, x);
      double background = 1e9;
      for (int k = std::max(0, x - 3); k <= std::min(image.cols - 1, x + 3); ++k)
        background = std::min(background, luma(image.at<cv::Vec3b>(y, k)));
      for (int c = 0; c < 3; ++c) brightened += b[c] > in[c] + 1;
      dug += luma(b) < background - 1.0;
      const bool inside = luma(u) <= luma(in) + 1.0 && luma(u) >= background - 1.0;
      if (inside)
        moved_inside += cv::norm(b, u, cv::NORM_INF) > 1.0;
      else
        ++clamped;
    }
  EXPECT_EQ(brightened, 0);
  EXPECT_EQ(dug, 0);
  EXPECT_EQ(moved_inside, 0);
  EXPECT_GT(clamped, image.rows * image.cols / 50) << "the unbounded layer stayed inside the bound: nothing tested";
}

// EngineOptions::rain_strength: 0 gives the input back exactly, in the grey and in the generator's
// colours; 1 is the default output; in the generator's colours 2 removes twice G_N's layer (8-bit
// rounding: 1 level); bounded, more strength never brightens a pixel and takes more off where the
// layer had room; out of range is an error naming it, from the options and from the setter.
TEST_F(EngineTest, RainStrengthScalesTheRemovedLayer) {
  const cv::Mat image = derain::test::makeRainyScene(96, 64, 5);
  auto deraining = [&](Engine& engine, float strength) {
    engine.setRainStrength(strength);
    cv::Mat out;
    engine.derain(image, out);
    return out;
  };
  Engine engine = load();
  cv::Mat plain;
  engine.derain(image, plain);  // the default: 1
  EXPECT_EQ(cv::norm(deraining(engine, 0.0f), image, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(deraining(engine, 1.0f), plain, cv::NORM_INF), 0.0);
  const cv::Mat doubled = deraining(engine, 2.0f);
  // Every channel value as a signed int, one channel.
  auto values = [](const cv::Mat& m) {
    cv::Mat v;
    m.reshape(1).convertTo(v, CV_32S);
    return v;
  };
  const cv::Mat in = values(image);
  EXPECT_EQ(cv::countNonZero(values(doubled) - in > 1), 0) << "strength 2 brightened a pixel";
  const double removed_plain = cv::sum(in - values(plain))[0], removed_doubled = cv::sum(in - values(doubled))[0];
  EXPECT_GT(removed_plain, 0.0);
  EXPECT_GT(removed_doubled, removed_plain * 1.2) << "strength 2 took little more off than 1";

  EngineOptions raw_options;
  raw_options.grey_rain = false;
  Engine raw = load(raw_options);
  const cv::Mat raw_plain = deraining(raw, 1.0f);
  EXPECT_EQ(cv::norm(deraining(raw, 0.0f), image, cv::NORM_INF), 0.0);
  const cv::Mat raw_doubled = deraining(raw, 2.0f);
  const cv::Mat expected = 2 * values(raw_plain) - in;  // in - 2 (in - once)
  const cv::Mat unsaturated = (expected > 1) & (expected < 254);
  const cv::Mat off = cv::abs(values(raw_doubled) - expected) > 2;  // two roundings of the layer
  const int checked = cv::countNonZero(unsaturated);
  EXPECT_EQ(cv::countNonZero(off & unsaturated), 0);
  EXPECT_GT(checked, image.rows * image.cols);

  for (float bad : {-0.5f, derain::kMaxRainStrength + 0.5f, std::nanf("")}) {
    EngineOptions options;
    options.rain_strength = bad;
    try {
      options.validate();
      ADD_FAILURE() << "rain strength " << bad << " accepted";
    } catch (const derain::Error& e) {
      EXPECT_NE(std::string(e.what()).find("rain-strength"), std::string::npos) << e.what();
    }
    EXPECT_THROW(engine.setRainStrength(bad), derain::Error);
  }
  EXPECT_EQ(engine.options().rain_strength, 2.0f) << "a refused value changed the engine";
}

// The lite engine on the CPU runs its own one-pass kernels, not the LibTorch operators they replace
// (a layout slip silently brings the operators back: LibTorch's profiler lists every operator run).
// Convolutions and allocations are LibTorch's by design.
TEST_F(EngineTest, LiteInferenceRunsTheFusedKernelsNotTheOperators) {
  const cv::Mat image = derain::test::makeRainyScene(96, 64, 3);
  for (auto precision : {derain::Precision::FP32, derain::Precision::BF16}) {
    EngineOptions options;
    options.precision = precision;
    options.threads = 2;
    Engine engine = load(options);
    cv::Mat out;
    engine.derain(image, out);  // packs the weights
    const std::string trace = dir_.file("trace.json");
    {
      torch::autograd::profiler::RecordProfile profile(trace);
      engine.derain(image, out);
    }
    std::ifstream in(trace);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(text.find("mkldnn_prepacked::conv2d_run") != std::string::npos ||
                text.find("derain::onednn_conv2d") != std::string::npos)
        << "no convolution recorded";
    for (const char* op : {"aten::sigmoid", "aten::tanh", "aten::upsample_bilinear2d", "aten::adaptive_avg_pool2d",
                           "aten::pixel_shuffle", "aten::reflection_pad2d", "aten::cat", "aten::clone", "aten::relu",
                           "aten::add"})
      EXPECT_EQ(text.find(std::string("\"") + op + "\""), std::string::npos)
          << op << " ran (" << (precision == derain::Precision::BF16 ? "bf16" : "fp32") << ")";
  }
}

TEST(Tiling, StreamedRowsEqualTheWholeFrameBlendBitExactly) {
  // 4 bands x 3 columns of 64-pixel tiles overlapping by 24 on a 150x130 frame, so rows are carried
  // from band to band. Each "tile output" is a pattern that depends on the tile (as a network's
  // output near seams does); the reference accumulates every tile over the whole frame at once, in
  // the same order, as the engine did before streaming.
  constexpr int kTile = 64, kOverlap = 24, kWidth = 150, kHeight = 130, kChannels = 3;
  using derain::detail::Span;
  auto tileOutput = [](const Span& r, const Span& c) {
    auto y = torch::arange(r.begin, r.begin + r.size, torch::kFloat32).view({1, 1, r.size, 1});
    auto x = torch::arange(c.begin, c.begin + c.size, torch::kFloat32).view({1, 1, 1, c.size});
    auto ch = torch::arange(0, kChannels, torch::kFloat32).view({1, kChannels, 1, 1});
    return torch::sin(y * 0.37f + x * 0.11f + ch) + 0.01f * (r.begin + 3 * c.begin);
  };
  const auto rows = derain::detail::planSpans(kHeight, kTile, kOverlap);
  const auto cols = derain::detail::planSpans(kWidth, kTile, kOverlap);
  ASSERT_GE(rows.size(), 3u);
  ASSERT_GE(cols.size(), 3u);
  auto sum = torch::zeros({1, kChannels, kHeight, kWidth}), weight_sum = torch::zeros({1, 1, kHeight, kWidth});
  for (const Span& r : rows) {
    auto wr = derain::detail::spanWeights(r, kHeight, kOverlap);
    auto row_w = torch::from_blob(wr.data(), {1, 1, r.size, 1}).clone();
    for (const Span& c : cols) {
      auto wc = derain::detail::spanWeights(c, kWidth, kOverlap);
      auto w = row_w * torch::from_blob(wc.data(), {1, 1, 1, c.size}).clone();
      sum.narrow(2, r.begin, r.size).narrow(3, c.begin, c.size).add_(tileOutput(r, c) * w);
      weight_sum.narrow(2, r.begin, r.size).narrow(3, c.begin, c.size).add_(w);
    }
  }
  const auto reference = sum / weight_sum;

  auto streamed = torch::full({1, kChannels, kHeight, kWidth}, -100.0f);
  int next_row = 0, emits = 0;
  derain::detail::processTiledRows(kHeight, kWidth, kTile, kOverlap, tileOutput,
      [&](int first_row, const at::Tensor& finished) {
        EXPECT_EQ(first_row, next_row) << "rows emitted out of order or twice";
        streamed.narrow(2, first_row, finished.size(2)).copy_(finished);
        next_row = first_row + static_cast<int>(finished.size(2));
        ++emits;
      });
  EXPECT_EQ(next_row, kHeight);
  EXPECT_EQ(emits, static_cast<int>(rows.size()));
  EXPECT_TRUE(torch::equal(streamed, reference)) << (streamed - reference).abs().max().item<float>();
}

TEST_F(EngineTest, GreyAlphaAnd16BitShareTheColourPath) {
  Engine engine = load();
  const cv::Mat colour = derain::test::makeRainyScene(50, 34, 18);
  cv::Mat colour_out;
  engine.derain(colour, colour_out);

  // Grey: the grey of the result of the replicated image.
  cv::Mat grey, grey_as_colour, grey_out, grey_expected;
  cv::cvtColor(colour, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grey, grey_as_colour, cv::COLOR_GRAY2BGR);
  engine.derain(grey, grey_out);
  cv::Mat replicated_out;
  engine.derain(grey_as_colour, replicated_out);
  cv::cvtColor(replicated_out, grey_expected, cv::COLOR_BGR2GRAY);
  ASSERT_EQ(grey_out.type(), CV_8UC1);
  EXPECT_EQ(cv::norm(grey_out, grey_expected, cv::NORM_INF), 0.0);

  // BGRA: colour as for BGR, alpha bit-exact.
  cv::Mat alpha(colour.size(), CV_8UC1);
  cv::randu(alpha, 0, 256);
  cv::Mat bgra, bgra_out;
  const cv::Mat planes[] = {colour, alpha};
  cv::merge(planes, 2, bgra);
  ASSERT_EQ(bgra.type(), CV_8UC4);
  engine.derain(bgra, bgra_out);
  ASSERT_EQ(bgra_out.type(), CV_8UC4);
  cv::Mat out_colour, out_alpha;
  cv::cvtColor(bgra_out, out_colour, cv::COLOR_BGRA2BGR);
  cv::extractChannel(bgra_out, out_alpha, 3);
  EXPECT_EQ(cv::norm(out_colour, colour_out, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(out_alpha, alpha, cv::NORM_INF), 0.0);

  // 16-bit: through float, back to 16-bit with rounding; alpha of 16-bit BGRA bit-exact too.
  cv::Mat deep, deep_out, as_float, float_out, expected16;
  colour.convertTo(deep, CV_16UC3, 257.0);
  engine.derain(deep, deep_out);
  ASSERT_EQ(deep_out.type(), CV_16UC3);
  deep.convertTo(as_float, CV_32FC3, 1.0 / 65535);
  engine.derain(as_float, float_out);
  float_out.convertTo(expected16, CV_16UC3, 65535.0);
  EXPECT_EQ(cv::norm(deep_out, expected16, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(deep_out, deep, cv::NORM_INF), 256.0);  // the network really changed it

  // In place (dst is src) works as well.
  cv::Mat in_place = colour.clone();
  engine.derain(in_place, in_place);
  EXPECT_EQ(cv::norm(in_place, colour_out, cv::NORM_INF), 0.0);
}

TEST_F(EngineTest, OneTileEqualsNoTilingExactly) {
  cv::Mat image = derain::test::makeRainyScene(60, 40, 8), whole, tiled;
  load().derain(image, whole);
  EngineOptions options;
  options.tile_size = 64;  // larger than the frame: a single tile
  options.tile_overlap = 8;
  load(options).derain(image, tiled);
  EXPECT_EQ(cv::norm(whole, tiled, cv::NORM_INF), 0.0);
}

TEST_F(EngineTest, SavingABf16EngineKeepsTheFp32Weights) {
  EngineOptions bf16;
  bf16.precision = derain::Precision::BF16;
  const std::string again = dir_.file("again.derain");
  load(bf16).save(again);
  const auto original = derain::detail::readContainer(path_), resaved = derain::detail::readContainer(again);
  ASSERT_EQ(original.tensors.size(), resaved.tensors.size());
  for (size_t i = 0; i < original.tensors.size(); ++i)
    EXPECT_TRUE(torch::equal(original.tensors[i].second, resaved.tensors[i].second)) << original.tensors[i].first;
}

TEST_F(EngineTest, Bf16IsCloseToFp32) {
  EngineOptions bf16;
  bf16.precision = derain::Precision::BF16;
  Engine half = load(bf16);
  EXPECT_EQ(half.precision(), derain::Precision::BF16);
  cv::Mat image = derain::test::makeRainyScene(64, 48, 9), ref, out;
  load().derain(image, ref);
  half.derain(image, out);
  // bf16 keeps 8 mantissa bits: expect a few grey levels on average, not garbage.
  EXPECT_LT(meanAbsDiff(ref, out), 6.0);
  EXPECT_GT(cv::norm(ref, out, cv::NORM_INF), 0.0);  // it really ran in bf16
}

TEST_F(EngineTest, ThreadSettingTakesEffect) {
  EngineOptions one;
  one.threads = 1;
  Engine single = load(one);
  EXPECT_EQ(derain::runtimeThreads(), 1);
  EngineOptions two;
  two.threads = 2;
  Engine dual = load(two);
  EXPECT_EQ(derain::runtimeThreads(), 2);
  cv::Mat image = derain::test::makeRainyScene(32, 32, 10), a, b;
  single.derain(image, a);  // each engine re-applies its own setting
  EXPECT_EQ(derain::runtimeThreads(), 1);
  dual.derain(image, b);
  EXPECT_EQ(derain::runtimeThreads(), 2);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_NE(single.describe().find("1 thread"), std::string::npos);
}

TEST_F(EngineTest, ConcurrentEnginesWithDifferentThreadCountsAreBitExact) {
  EngineOptions one, two;
  one.threads = 1;
  two.threads = 2;
  Engine single = load(one), dual = load(two);
  const cv::Mat a = derain::test::makeRainyScene(96, 64, 13), b = derain::test::makeRainyScene(96, 64, 14);
  cv::Mat alone_a, alone_b;
  single.derain(a, alone_a);
  dual.derain(b, alone_b);
  // Both at once, many times over, each in its own thread: each thread keeps its own setting.
  constexpr int kRounds = 20;
  int wrong_a = 0, wrong_b = 0, threads_a = 0, threads_b = 0;
  std::thread ta([&] {
    for (int i = 0; i < kRounds; ++i) {
      cv::Mat out;
      single.derain(a, out);
      wrong_a += cv::norm(out, alone_a, cv::NORM_INF) != 0.0;
      threads_a = derain::runtimeThreads();
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < kRounds; ++i) {
      cv::Mat out;
      dual.derain(b, out);
      wrong_b += cv::norm(out, alone_b, cv::NORM_INF) != 0.0;
      threads_b = derain::runtimeThreads();
    }
  });
  ta.join();
  tb.join();
  EXPECT_EQ(wrong_a, 0);
  EXPECT_EQ(wrong_b, 0);
  EXPECT_EQ(threads_a, 1);
  EXPECT_EQ(threads_b, 2);
}

TEST_F(EngineTest, SetThreadsChangesTheCountInPlace) {
  Engine engine = load();
  cv::Mat image = derain::test::makeRainyScene(32, 32, 15), before, after;
  engine.derain(image, before);
  engine.setThreads(1);
  EXPECT_EQ(engine.options().threads, 1);
  EXPECT_NE(engine.describe().find(", 1 thread(s)"), std::string::npos) << engine.describe();
  engine.derain(image, after);
  EXPECT_EQ(derain::runtimeThreads(), 1);
  EXPECT_EQ(cv::norm(before, after, cv::NORM_INF), 0.0);
  EXPECT_THROW(engine.setThreads(-1), derain::Error);
  EXPECT_THROW(engine.setThreads(derain::kMaxThreads + 1), derain::Error);
  EXPECT_EQ(engine.options().threads, 1);
}

TEST_F(EngineTest, LibTorchFailuresArriveAsDerainErrors) {
  // An allocation LibTorch cannot satisfy (a 60000x60000 frame, untiled, with the address space
  // capped) must surface as derain::Error with a one-line reason, not c10::Error.
  EngineOptions untiled;
  untiled.tile_size = derain::kMaxTileSize;
  Engine engine = load(untiled);
  rlimit old{};
  getrlimit(RLIMIT_AS, &old);
  const cv::Mat huge(8000, 8000, CV_8UC3, cv::Scalar(90, 120, 150));
  rlimit capped = old;
  capped.rlim_cur = 3ull << 30;  // 3 GB: the image fits, the network's activations do not
  ASSERT_EQ(setrlimit(RLIMIT_AS, &capped), 0);
  std::string message;
  bool other = false;
  try {
    cv::Mat out;
    engine.derain(huge, out);
  } catch (const derain::Error& e) {
    message = e.what();
  } catch (...) {
    other = true;
  }
  setrlimit(RLIMIT_AS, &old);
  EXPECT_FALSE(other) << "something other than derain::Error escaped";
  EXPECT_FALSE(message.empty()) << "no error at all";
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// A lite model file of its own for a shared-engine test.
struct SharedModelFile {
  explicit SharedModelFile(int seed) : path(dir.file("shared.derain")) {
    derain::test::writeHeScaledModel(path, derain::ModelConfig::lite(), seed);
  }
  TempDir dir;
  const std::string path;
};

EngineOptions cpuOptions() {
  EngineOptions options;
  options.device = derain::Device::CPU;
  return options;
}

TEST(SharedEngines, SameModelAndOptionsShareOneEngine) {
  const SharedModelFile file(22);
  const std::string& path = file.path;
  const EngineOptions options = cpuOptions();
  auto& library = derain::inferenceLibrary();
  const int before = library.openEngines();
  auto first = library.openShared(path, options);
  auto second = library.openShared(path, options);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(library.holders(path, options), 2);
  EXPECT_EQ(library.openEngines(), before + 1);
  EngineOptions other = options;
  other.threads = 1;
  auto third = library.openShared(path, other);
  EXPECT_NE(third.get(), first.get());
  EXPECT_EQ(library.openEngines(), before + 2);

  const cv::Mat image = derain::test::makeRainyScene(48, 40, 16);
  cv::Mat shared_out, own_out;
  first->derain(image, shared_out, ColorOrder::BGR);
  Engine own(path, options);
  own.derain(image, own_out);
  EXPECT_EQ(cv::norm(shared_out, own_out, cv::NORM_INF), 0.0);

  first.reset();
  second.reset();
  third.reset();
  EXPECT_EQ(library.holders(path, options), 0);
  EXPECT_EQ(library.openEngines(), before);
}

// Named instances: the same model and options give one engine per name, and the unnamed calls are
// the instance "". Every instance computes the same frames.
TEST(SharedEngines, NamedInstancesHaveEnginesOfTheirOwn) {
  const SharedModelFile file(23);
  const std::string& path = file.path;
  EngineOptions options = cpuOptions();
  options.threads = 1;
  auto& library = derain::inferenceLibrary();
  const int before = library.openEngines();
  auto a = library.openSharedInstance(path, options, "a");
  auto a_again = library.openSharedInstance(path, options, "a");
  auto b = library.openSharedInstance(path, options, "b");
  auto unnamed = library.openShared(path, options);
  EXPECT_EQ(a.get(), a_again.get());
  EXPECT_NE(a.get(), b.get());
  EXPECT_NE(a.get(), unnamed.get());
  EXPECT_EQ(library.openSharedInstance(path, options, "").get(), unnamed.get());
  EXPECT_EQ(library.instanceHolders(path, options, "a"), 2);
  EXPECT_EQ(library.instanceHolders(path, options, "b"), 1);
  EXPECT_EQ(library.holders(path, options), 1);
  EXPECT_EQ(library.openEngines(), before + 3);

  const cv::Mat image = derain::test::makeRainyScene(48, 40, 17);
  cv::Mat out_a, out_b;
  a->derain(image, out_a, ColorOrder::BGR);
  b->derain(image, out_b, ColorOrder::BGR);
  EXPECT_EQ(cv::norm(out_a, out_b, cv::NORM_INF), 0.0);

  a.reset();
  a_again.reset();
  b.reset();
  unnamed.reset();
  EXPECT_EQ(library.instanceHolders(path, options, "a"), 0);
  EXPECT_EQ(library.openEngines(), before);
}

TEST_F(EngineTest, DefaultThreadsIsEveryCore) {
  Engine engine = load();
  EXPECT_EQ(derain::runtimeThreads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_F(EngineTest, RainmakeNoiseIsSeeded) {
  Engine engine = load();
  cv::Mat image = derain::test::makeRainyScene(48, 32, 11), a, b, c, plain;
  derain::RainmakeOptions rain{0.5f, 3, {}};
  engine.rainmake(image, a, ColorOrder::BGR, rain);
  engine.rainmake(image, b, ColorOrder::BGR, rain);
  rain.seed = 4;
  engine.rainmake(image, c, ColorOrder::BGR, rain);
  engine.rainmake(image, plain);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, plain, cv::NORM_INF), 0.0);
}

// Rain200A-style rainmaking: G_R driven by the attention of a rainy reference image.
TEST_F(EngineTest, RainmakeWithAReferenceIsSeededAndKeepsSizeTypeAndRange) {
  Engine engine = load();
  const cv::Mat clean = derain::makeDemoScene({48, 32}, 5);
  const cv::Mat reference = derain::test::makeRainyScene(48, 32, 6);
  derain::RainmakeOptions rain{0.5f, 3, reference};
  cv::Mat a, b, c, own;
  engine.rainmake(clean, a, ColorOrder::BGR, rain);
  engine.rainmake(clean, b, ColorOrder::BGR, rain);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);  // same seed, same rain
  rain.seed = 4;
  engine.rainmake(clean, c, ColorOrder::BGR, rain);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
  engine.rainmake(clean, own, ColorOrder::BGR, derain::RainmakeOptions{0.5f, 3, {}});
  EXPECT_GT(meanAbsDiff(a, own), 0.5) << "the reference's mask, not the input's, drives G_R";
  EXPECT_EQ(a.size(), clean.size());
  EXPECT_EQ(a.type(), CV_8UC3);

  // Float input: float output of the same size, every value in [0, 1].
  cv::Mat clean_f, out_f;
  clean.convertTo(clean_f, CV_32FC3, 1.0 / 255);
  engine.rainmake(clean_f, out_f, ColorOrder::BGR, derain::RainmakeOptions{2.0f, 3, reference});
  ASSERT_EQ(out_f.type(), CV_32FC3);
  EXPECT_EQ(out_f.size(), clean.size());
  double lo = 0, hi = 0;
  cv::minMaxLoc(out_f.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
}

TEST_F(EngineTest, RainmakeReferenceIsResizedToTheInput) {
  Engine engine = load();
  const cv::Mat clean = derain::makeDemoScene({48, 32}, 5);
  const cv::Mat big = derain::test::makeRainyScene(101, 70, 6), small = derain::test::makeRainyScene(29, 19, 6);
  for (const cv::Mat& reference : {big, small}) {
    cv::Mat resized, from_any, from_resized;
    cv::resize(reference, resized, clean.size(), 0, 0, reference.cols > clean.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    engine.rainmake(clean, from_any, ColorOrder::BGR, derain::RainmakeOptions{0.1f, 3, reference});
    engine.rainmake(clean, from_resized, ColorOrder::BGR, derain::RainmakeOptions{0.1f, 3, resized});
    EXPECT_EQ(from_any.size(), clean.size());
    EXPECT_EQ(cv::norm(from_any, from_resized, cv::NORM_INF), 0.0) << reference.size();
  }
}

// With the input as its own reference and no noise, the result is exactly plain rainmaking: the
// reference's mask is computed on the same tiles as the input (checked with several tiles).
TEST_F(EngineTest, RainmakeWithTheInputAsReferenceIsPlainRainmakingAlsoWhenTiled) {
  for (int tile : {0, 32}) {
    EngineOptions options;
    options.tile_size = tile;
    options.tile_overlap = 8;
    Engine engine = load(options);
    const cv::Mat image = derain::makeDemoScene({80, 48}, 9);
    cv::Mat plain, self_referenced;
    engine.rainmake(image, plain);
    engine.rainmake(image, self_referenced, ColorOrder::BGR, derain::RainmakeOptions{0.0f, 0, image});
    EXPECT_EQ(cv::norm(plain, self_referenced, cv::NORM_INF), 0.0) << "tile " << tile;
  }
}

TEST_F(EngineTest, BadImagesAreRejectedClearly) {
  Engine engine = load();
  cv::Mat out;
  EXPECT_THROW(engine.derain(cv::Mat(), out), derain::Error);
  EXPECT_THROW(engine.derain(cv::Mat(8, 8, CV_8SC3, cv::Scalar(0)), out), derain::Error);
  EXPECT_THROW(engine.derain(cv::Mat(8, 8, CV_64FC3, cv::Scalar(0)), out), derain::Error);
  try {
    engine.derain(cv::Mat(8, 8, CV_8UC2, cv::Scalar(0)), out);
    FAIL() << "no error";
  } catch (const derain::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 channels"), std::string::npos) << e.what();
  }
}

TEST_F(EngineTest, NonContinuousRoiIsHandled) {
  Engine engine = load();
  cv::Mat big = derain::test::makeRainyScene(80, 60, 12);
  cv::Mat roi = big(cv::Rect(10, 5, 41, 33)), out_roi, out_copy;
  ASSERT_FALSE(roi.isContinuous());
  engine.derain(roi, out_roi);
  engine.derain(roi.clone(), out_copy);
  EXPECT_EQ(cv::norm(out_roi, out_copy, cv::NORM_INF), 0.0);
}

TEST_F(EngineTest, BadOptionsAreRejected) {
  EngineOptions bad;
  bad.threads = -1;
  EXPECT_THROW(load(bad), derain::Error);
  bad = {};
  bad.tile_size = 8;
  EXPECT_THROW(load(bad), derain::Error);
  bad = {};
  bad.tile_size = 64;
  bad.tile_overlap = 32;
  EXPECT_THROW(load(bad), derain::Error);
  bad = {};
  bad.threads = derain::kMaxThreads + 1;  // threads=1000 would spawn idle threads for nothing
  EXPECT_THROW(load(bad), derain::Error);
  bad = {};
  bad.tile_size = derain::kMaxTileSize + 1;
  EXPECT_THROW(load(bad), derain::Error);
}

TEST(EngineDevice, CudaRequestWithoutCudaFailsClearly) {
  if (derain::cudaAvailable()) GTEST_SKIP() << "a GPU is present";
  EngineOptions options;
  options.device = derain::Device::CUDA;
  try {
    Engine::untrained(derain::test::tinyConfig(), 1, options);
    FAIL() << "no error";
  } catch (const derain::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
  }
  options.device = derain::Device::Auto;
  EXPECT_EQ(Engine::untrained(derain::test::tinyConfig(), 1, options).device(), derain::Device::CPU);
}

TEST(EngineDevice, ParsingWords) {
  EXPECT_EQ(derain::parseDevice("cuda"), derain::Device::CUDA);
  EXPECT_EQ(derain::parsePrecision("bf16"), derain::Precision::BF16);
  EXPECT_EQ(derain::parsePrecision("int8"), derain::Precision::INT8);
  EXPECT_EQ(derain::toString(derain::Precision::INT8), "int8");
  EXPECT_EQ(derain::toString(derain::Precision::FP32), "fp32");
  EXPECT_THROW(derain::parseDevice("tpu"), derain::Error);
  EXPECT_THROW(derain::parsePrecision("fp8"), derain::Error);
}
