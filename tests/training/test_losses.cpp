// Each DerainCycleGAN loss against values computed by hand on tiny tensors, EM recovering a known
// mixture, and the perceptual loss's weights file and gradient path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "derain/error.hpp"
#include "losses/adversarial_loss.h"
#include "losses/attention_loss.h"
#include "losses/cycle_loss.h"
#include "losses/gmm_loss.h"
#include "losses/perceptual_loss.h"
#include "losses/reconstruction_loss.h"
#include "losses/vgg16_features.h"
#include "model_file.h"
#include "nets/discriminator.h"
#include "training_test_support.h"

using namespace derain;
using namespace derain::detail;

namespace {
at::Tensor t(std::vector<float> values, std::vector<int64_t> shape) {
  return torch::tensor(values).reshape(shape);
}
double value(const at::Tensor& x) { return x.item<double>(); }
}  // namespace

TEST(AdversarialLoss, ScalesCombinedAsFinestMeanOrSum) {
  // Scale 1 (finest): scores {1, 2}; scale 2: score {0}.
  // Per-scale distance to "real" (1): (0 + 1) / 2 = 0.5 and 1; to "fake" (0): (1 + 4) / 2 = 2.5 and 0.
  std::vector<at::Tensor> maps = {t({1, 2}, {1, 1, 1, 2}), t({0}, {1, 1, 1, 1})};
  EXPECT_NEAR(value(lsganLoss(maps, true, AdversarialScales::Finest)), 0.5, 1e-6);
  EXPECT_NEAR(value(lsganLoss(maps, false, AdversarialScales::Finest)), 2.5, 1e-6);
  EXPECT_NEAR(value(lsganLoss(maps, true, AdversarialScales::Mean)), (0.5 + 1.0) / 2, 1e-6);   // 0.75
  EXPECT_NEAR(value(lsganLoss(maps, false, AdversarialScales::Mean)), (2.5 + 0.0) / 2, 1e-6);  // 1.25
  EXPECT_NEAR(value(lsganLoss(maps, true, AdversarialScales::Sum)), 0.5 + 1.0, 1e-6);          // 1.5
  EXPECT_NEAR(value(lsganLoss(maps, false, AdversarialScales::Sum)), 2.5 + 0.0, 1e-6);         // 2.5
  EXPECT_THROW(lsganLoss({}, true, AdversarialScales::Finest), Error);
  for (auto s : {AdversarialScales::Finest, AdversarialScales::Mean, AdversarialScales::Sum})
    EXPECT_EQ(parseAdversarialScales(toString(s)), s);
  EXPECT_THROW(parseAdversarialScales("all"), Error);
}

// One-scale, one-layer discriminator with hand-set weights: a 4x4 conv averaging the 48 input values
// of its window, the LeakyReLU under test, a 1x1 conv passing the value through. On an image of -1
// everywhere, every patch score is -slope, so the "real" LSGAN loss is (-slope - 1)^2.
double realLossOfMinusOneImage(double slope) {
  DiscriminatorConfig config;
  config.scales = 1;
  config.layers = 1;
  config.channels = 1;
  config.leaky_slope = slope;
  MultiScaleDiscriminator d(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : d->named_parameters()) {
      const bool first_conv = p.value().dim() == 4 && p.value().size(2) == 4;
      if (p.key().find("weight") != std::string::npos) p.value().fill_(first_conv ? 1.0 / 48 : 1.0);
      else p.value().zero_();
    }
  }
  const at::Tensor image = torch::full({1, 3, 8, 8}, -1.0);
  return value(lsganLoss(d->forward(image), true, AdversarialScales::Finest));
}

TEST(Discriminator, LeakyReluSlopeChangesTheLossAsComputedByHand) {
  EXPECT_NEAR(realLossOfMinusOneImage(0.01), 1.01 * 1.01, 1e-5);  // 1.0201, the reference's slope
  EXPECT_NEAR(realLossOfMinusOneImage(0.2), 1.2 * 1.2, 1e-5);     // 1.44, pix2pixHD's (lite)
  EXPECT_EQ(ModelConfig::paper().discriminator.leaky_slope, 0.01);
  EXPECT_EQ(ModelConfig::lite().discriminator.leaky_slope, 0.2);
}

TEST(AttentionLoss, RainyAndCleanPriors) {
  EXPECT_NEAR(value(rainyAttentionLoss(t({0.2f, 0.8f}, {1, 1, 1, 2}), t({0.5f, 0.5f}, {1, 1, 1, 2}))), 0.09, 1e-6);
  EXPECT_NEAR(value(cleanAttentionLoss(t({1.f, -3.f}, {1, 1, 1, 2}))), (1.0 + 9.0) / 2, 1e-6);
}

TEST(AttentionLoss, PriorIsTruncatedGaussianOnUnitIntervalAndReproducible) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(123);
  auto state = gen.get_state();
  at::Tensor p = attentionPrior({1, 1, 200, 500}, gen);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{1, 1, 200, 500}));
  EXPECT_GE(p.min().item<float>(), 0.0f);
  EXPECT_LE(p.max().item<float>(), 1.0f);
  // N(0.5, 0.25^2) truncated at +-2 sigma: mean 0.5, std 0.25 * sqrt(1 - 2 * 2 phi(2) / (Phi(2) - Phi(-2))).
  const double phi2 = std::exp(-2.0) / std::sqrt(2 * M_PI), mass = std::erf(2.0 / std::sqrt(2.0));
  const double expected_std = 0.25 * std::sqrt(1.0 - 4.0 * phi2 / mass);  // 0.2199
  EXPECT_NEAR(p.mean().item<double>(), 0.5, 0.003);
  EXPECT_NEAR(p.std().item<double>(), expected_std, 0.003);
  gen.set_state(state);
  EXPECT_TRUE(torch::equal(attentionPrior({1, 1, 200, 500}, gen), p));
}

TEST(CycleLoss, SumOfBothBranchesL1) {
  // |r - r~| = {0.5, 0.5} -> 0.5; |n - n~| = {1, 1, 1, 1} -> 1.
  EXPECT_NEAR(value(cycleLoss(t({0, 1}, {1, 1, 1, 2}), t({0.5f, 0.5f}, {1, 1, 1, 2}), t({1, 1, 1, 1}, {1, 1, 2, 2}),
                              t({0, 0, 0, 2}, {1, 1, 2, 2}))),
              1.5, 1e-6);
}

TEST(ReconstructionLoss, MaskBroadcastOverColourChannels) {
  at::Tensor att = t({0.1f, 0.2f}, {1, 1, 1, 2});
  at::Tensor derained = torch::zeros({1, 3, 1, 2});
  at::Tensor rainy = t({0.1f, 0.2f, 0.f, 0.f, 1.f, 1.f}, {1, 3, 1, 2});
  // Residuals: {0, 0}, {0.1, 0.2}, {-0.9, -0.8} -> (0.01 + 0.04 + 0.81 + 0.64) / 6 = 0.25.
  EXPECT_NEAR(value(reconstructionLoss(att, derained, rainy)), 0.25, 1e-6);
}

TEST(GmmLoss, NegativeLogLikelihoodPerValue) {
  ZeroMeanGMM gmm(2);
  gmm.setState(torch::tensor({0.5, 0.5}, torch::kFloat64), torch::tensor({1.0, 4.0}, torch::kFloat64));
  auto density = [](double x, double var) { return std::exp(-x * x / (2 * var)) / std::sqrt(2 * M_PI * var); };
  const double nll0 = -std::log(0.5 * density(0, 1) + 0.5 * density(0, 4));  // 1.2066
  const double nll2 = -std::log(0.5 * density(2, 1) + 0.5 * density(2, 4));  // 2.4363
  at::Tensor s = t({0.f, 2.f}, {1, 1, 1, 2}).requires_grad_(true);
  at::Tensor loss = gmm.negativeLogLikelihood(s);
  EXPECT_NEAR(value(loss), (nll0 + nll2) / 2, 1e-5);
  // d/dx of -log sum_k pi_k N(x|0,var_k) = x * sum_k gamma_k / var_k; halved by the mean.
  loss.backward();
  const double g1 = 0.5 * density(2, 1), g4 = 0.5 * density(2, 4);
  const double expected_grad = 2.0 * (g1 / 1.0 + g4 / 4.0) / (g1 + g4) / 2;
  EXPECT_NEAR(s.grad()[0][0][0][0].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(s.grad()[0][0][0][1].item<double>(), expected_grad, 1e-5);
}

TEST(GmmLoss, VarianceFloorBoundsTheRewardForAVanishingLayer) {
  // Fitted on a layer of zeros, every component sits on the floor: NLL(0) = 0.5 * log(2 pi floor).
  const at::Tensor zeros = torch::zeros({1, 1, 4, 4});
  for (const double floor : {1e-6, 1e-3}) {
    ZeroMeanGMM gmm(3, floor);
    gmm.fit(zeros, 3);
    EXPECT_NEAR(value(gmm.negativeLogLikelihood(zeros)), 0.5 * std::log(2 * M_PI * floor), 2e-6) << floor;  // float32
    EXPECT_NEAR(gmm.variances().min().item<double>(), floor, floor * 1e-12);
  }
  // Against a faint layer of +-0.01 (about 1.3 grey levels): with the default floor a vanishing layer
  // scores 0.5 * (0.01^2 / 1e-6) = 50 nats better per value, with a floor of 1e-3 only 0.05.
  const at::Tensor faint = torch::full({1, 1, 4, 4}, 0.01f);
  for (const auto& [floor, reward] : {std::pair{1e-6, 50.0}, std::pair{1e-3, 0.05}}) {
    ZeroMeanGMM gmm(1, floor);
    gmm.setState(torch::tensor({1.0}, torch::kFloat64), torch::tensor({floor}, torch::kFloat64));
    EXPECT_NEAR(value(gmm.negativeLogLikelihood(faint)) - value(gmm.negativeLogLikelihood(zeros)), reward,
                reward * 1e-4) << floor;
  }
  EXPECT_THROW(ZeroMeanGMM(2, 0.0), Error);
}

TEST(GmmLoss, EmRecoversKnownMixture) {
  // 60% of values from N(0, 0.01), 40% from N(0, 1).
  std::mt19937_64 rng(5);
  std::normal_distribution<double> narrow(0.0, 0.1), wide(0.0, 1.0);
  std::bernoulli_distribution pick_narrow(0.6);
  std::vector<double> values(200000);
  for (auto& v : values) v = pick_narrow(rng) ? narrow(rng) : wide(rng);
  at::Tensor samples = torch::tensor(values, torch::kFloat64).to(torch::kFloat32);

  ZeroMeanGMM gmm(2);
  gmm.fit(samples, 200);
  auto order = gmm.variances().argsort();
  auto weights = gmm.weights().index_select(0, order), variances = gmm.variances().index_select(0, order);
  EXPECT_NEAR(weights[0].item<double>(), 0.6, 0.01);
  EXPECT_NEAR(weights[1].item<double>(), 0.4, 0.01);
  EXPECT_NEAR(variances[0].item<double>(), 0.01, 0.01 * 0.05);
  EXPECT_NEAR(variances[1].item<double>(), 1.0, 1.0 * 0.05);
  EXPECT_NEAR(gmm.weights().sum().item<double>(), 1.0, 1e-12);
}

TEST(GmmLoss, FitIsWarmStartedFromThePreviousStep) {
  at::Tensor samples = torch::randn({5000}, at::make_generator<at::CPUGeneratorImpl>(3)) * 0.3;
  ZeroMeanGMM twice(3), once(3);
  twice.fit(samples, 2);
  once.fit(samples, 1);
  once.fit(samples, 1);  // continues from the first call's estimate, not from scratch
  EXPECT_TRUE(torch::equal(once.weights(), twice.weights()));
  EXPECT_TRUE(torch::equal(once.variances(), twice.variances()));
  ZeroMeanGMM fresh(3);
  fresh.fit(samples, 1);
  EXPECT_FALSE(torch::equal(fresh.variances(), once.variances()));
}

TEST(GmmLoss, RejectsBadUse) {
  EXPECT_THROW(ZeroMeanGMM(0), Error);
  ZeroMeanGMM gmm(2);
  EXPECT_THROW(gmm.negativeLogLikelihood(torch::zeros({4})), Error);  // not fitted yet
  EXPECT_THROW(gmm.setState(torch::ones({3}), torch::ones({3})), Error);
  // A residual of exactly zero does not collapse a variance to 0 (the loss stays finite).
  gmm.fit(torch::zeros({100}), 5);
  EXPECT_TRUE(std::isfinite(value(gmm.negativeLogLikelihood(torch::zeros({100})))));
}

TEST(PerceptualLoss, ImageNetNormalisationOfMinusOneToOneInput) {
  // Pixel 0 is black, pixel 1 white; channel c: (v - mean_c) / std_c.
  at::Tensor x = torch::stack({torch::tensor({-1.f, 1.f}), torch::tensor({-1.f, 1.f}), torch::tensor({-1.f, 1.f})})
          .reshape({1, 3, 1, 2});
  at::Tensor n = PerceptualLoss::normaliseForVGG(x);
  EXPECT_NEAR(n[0][0][0][0].item<double>(), (0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(n[0][1][0][1].item<double>(), (1 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(n[0][2][0][1].item<double>(), (1 - 0.406) / 0.225, 1e-5);
}

TEST(PerceptualLoss, WeightsFileRoundTripAndLossValue) {
  training_test::TempDir dir;
  torch::manual_seed(11);
  VGG16Features random_vgg;  // LibTorch's default init: random weights, as the test needs
  const std::string path = dir.file("vgg.derain");
  saveVGG16Features(random_vgg, path);
  VGG16Features loaded = loadVGG16Features(path);
  for (const auto& p : loaded->parameters()) EXPECT_FALSE(p.requires_grad());
  auto a = random_vgg->named_parameters(), b = loaded->named_parameters();
  ASSERT_EQ(a.size(), 14u);  // seven convs, weight and bias
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_EQ(b["features.14.weight"].sizes(), (std::vector<int64_t>{256, 256, 3, 3}));

  PerceptualLoss loss(loaded);
  at::Tensor r = torch::rand({1, 3, 16, 16}) * 2 - 1, n = torch::rand({1, 3, 16, 16}) * 2 - 1;
  EXPECT_EQ(value(loss(r, r)), 0.0);
  // The loss is the sum over relu2_2 and relu3_3 of the mean squared feature difference.
  auto fn = random_vgg->forward(PerceptualLoss::normaliseForVGG(n));
  auto fr = random_vgg->forward(PerceptualLoss::normaliseForVGG(r));
  ASSERT_EQ(fn.size(), 2u);
  EXPECT_EQ(fn[0].sizes(), (std::vector<int64_t>{1, 128, 8, 8}));
  EXPECT_EQ(fn[1].sizes(), (std::vector<int64_t>{1, 256, 4, 4}));
  const double expected = value((fn[0] - fr[0]).pow(2).mean() + (fn[1] - fr[1]).pow(2).mean());
  EXPECT_GT(expected, 0.0);
  EXPECT_NEAR(value(loss(n, r)), expected, 1e-6 * expected + 1e-9);
}

TEST(PerceptualLoss, BadWeightsFilesAreRejectedNamingTheFile) {
  training_test::TempDir dir;
  EXPECT_THROW(loadVGG16Features(dir.file("missing.derain")), ModelFileError);
  // A libderain file that is not a VGG16 features file.
  ContainerFile other;
  other.setMeta("config", ModelConfig::lite().toText());
  writeContainer(dir.file("model.derain"), other);
  EXPECT_THROW(loadVGG16Features(dir.file("model.derain")), ModelFileError);
  // A tensor of the wrong shape.
  ContainerFile bad;
  bad.setMeta("content", kVGG16FeaturesContent);
  VGG16Features vgg;
  for (const auto& item : vgg->named_parameters())
    bad.tensors.emplace_back(item.key(), item.key() == "features.5.weight" ? torch::zeros({1}) : item.value().detach());
  writeContainer(dir.file("bad.derain"), bad);
  try {
    loadVGG16Features(dir.file("bad.derain"));
    FAIL() << "expected ModelFileError";
  } catch (const ModelFileError& e) {
    EXPECT_NE(std::string(e.what()).find("features.5.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.derain"), std::string::npos) << e.what();
  }
}

TEST(PerceptualLoss, FileWrittenByTheDocumentedPythonScriptLoads) {
  // training/make_vgg16_features.py's writer, fed a known pattern instead of torchvision's weights.
  const char* script = std::getenv("DERAIN_VGG_SCRIPT");
  if (!script || std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 or script path missing";
  training_test::TempDir dir;
  const std::string out = dir.file("vgg.derain");
  std::ofstream(dir.file("driver.py"))
      << "import struct, sys, importlib.util\n"
         "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
         "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
         "layout = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256)]\n"
         "tensors = []\n"
         "for i, cin, cout in layout:\n"
         "    n = cout * cin * 9\n"
         "    tensors.append(('features.%d.weight' % i, (cout, cin, 3, 3), struct.pack('<%df' % n, *[(k % 7) * 0.25 for k in range(n)])))\n"
         "    tensors.append(('features.%d.bias' % i, (cout,), struct.pack('<%df' % cout, *[i + k * 0.5 for k in range(cout)])))\n"
         "m.write_features(sys.argv[2], tensors)\n";
  const std::string command = "python3 " + dir.file("driver.py") + " " + script + " " + out;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  VGG16Features vgg = loadVGG16Features(out);
  auto params = vgg->named_parameters();
  EXPECT_EQ(params["features.0.weight"].sizes(), (std::vector<int64_t>{64, 3, 3, 3}));
  EXPECT_EQ(params["features.0.weight"].flatten()[9].item<float>(), (9 % 7) * 0.25f);
  EXPECT_EQ(params["features.14.bias"][3].item<float>(), 14 + 3 * 0.5f);
  EXPECT_EQ(params["features.7.weight"].flatten()[12345].item<float>(), (12345 % 7) * 0.25f);
}
