// The training loop: what each half-step updates, the gradient path of the perceptual loss, data
// loading and sampling, resuming bit for bit, bad data, and the exported model.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>

#include "denormals.h"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "losses/vgg16_features.h"
#include "model_file.h"
#include "tensor_image.h"
#include "training/batch_plan.h"
#include "training/batch_prefetcher.h"
#include "training/checkpoint.h"
#include "training/history_pool.h"
#include "training/image_domain.h"
#include "training/loss_log.h"
#include "training/loss_plot.h"
#include "training/lr_schedule.h"
#include "training/sample_grid.h"
#include "training/trainer.h"
#include "training/training_options.h"
#include "training/training_run.h"
#include "training/weight_init.h"
#include "training_test_support.h"

using namespace derain;
using namespace derain::detail;
using training_test::TempDir;

namespace {

std::map<std::string, at::Tensor> snapshot(torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

bool startsWithAny(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

// Names of the parameters that differ between `before` and the module now.
std::set<std::string> changed(const std::map<std::string, at::Tensor>& before, torch::nn::Module& module) {
  std::set<std::string> out;
  for (const auto& item : module.named_parameters())
    if (!torch::equal(before.at(item.key()), item.value().detach())) out.insert(item.key());
  return out;
}

at::Tensor randomBatch(int64_t seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  return torch::rand({1, 3, 32, 32}) * 2 - 1;
}

std::vector<std::string> csvLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Mean of the losses.csv column named `column` over rows [first, last] (1 = the first iteration).
double columnMean(const std::vector<std::string>& lines, const std::string& column, size_t first, size_t last) {
  auto cells = [](const std::string& line) {
    std::vector<std::string> out;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) out.push_back(cell);
    return out;
  };
  const auto header = cells(lines.at(0));
  const size_t index = static_cast<size_t>(std::find(header.begin(), header.end(), column) - header.begin());
  if (index == header.size()) throw std::runtime_error("no column " + column);
  double sum = 0;
  for (size_t row = first; row <= last; ++row) sum += std::stod(cells(lines.at(row)).at(index));
  return sum / static_cast<double>(last - first + 1);
}

TrainingRunOptions tinyRun(const TempDir& data, const std::string& out, int64_t iterations) {
  TrainingRunOptions run;
  run.rainy_files = training_test::writeDomain(data.file("rainy"), 5, 40, true, 1);
  run.clean_files = training_test::writeDomain(data.file("clean"), 4, 40, false, 2);
  run.out_dir = out;
  run.config = training_test::tinyConfig();
  run.training = training_test::tinyTrainingOptions(iterations);
  run.sample_every = 0;
  run.plot_every = 0;
  run.checkpoint_every = 0;
  run.message = [](const std::string&) {};
  return run;
}

}  // namespace

TEST(TrainingOptions, TextRoundTripAndErrors) {
  TrainingOptions o;
  o.lr = 3e-4;
  o.seed = 99;
  o.weights.gmm = 0.125;
  o.gmm_log_every = 7;
  o.gmm_variance_floor = 1e-3;
  o.vgg_weights = "/tmp/vgg.derain";
  TrainingOptions back;
  back.applyText(o.toText());
  EXPECT_EQ(back.toText(), o.toText());
  EXPECT_EQ(back.lr, 3e-4);
  EXPECT_EQ(back.seed, 99u);
  EXPECT_THROW(back.applyText("train.no_such_key = 1\n"), Error);
  EXPECT_THROW(back.applyText("train.lr = fast\n"), Error);
  EXPECT_EQ(back.gmm_log_every, 7);
  EXPECT_EQ(back.gmm_variance_floor, 1e-3);
  TrainingOptions bad_floor;
  bad_floor.gmm_variance_floor = 0.0;
  EXPECT_THROW(bad_floor.validate(training_test::tinyConfig()), Error);
  EXPECT_EQ(back.precision, "fp32");  // the default
  back.applyText("train.precision = bf16\n");
  EXPECT_EQ(back.precision, "bf16");
  EXPECT_NO_THROW(back.validate(training_test::tinyConfig()));
  back.precision = "fp16";
  EXPECT_THROW(back.validate(training_test::tinyConfig()), Error);
  TrainingOptions defaults;  // the paper's
  EXPECT_EQ(defaults.weights.adversarial, 1.0);
  EXPECT_EQ(defaults.weights.attention, 10.0);
  EXPECT_EQ(defaults.weights.cycle, 10.0);
  EXPECT_EQ(defaults.weights.perceptual, 0.01);
  EXPECT_EQ(defaults.weights.gmm, 10.0);
  EXPECT_EQ(defaults.weights.reconstruction, 10.0);
  EXPECT_EQ(defaults.lr, 1e-4);
  EXPECT_EQ(defaults.beta1, 0.5);
  EXPECT_EQ(defaults.beta2, 0.999);
  EXPECT_EQ(defaults.weight_decay, 1e-4);
  EXPECT_EQ(defaults.pool_size, 50);
  EXPECT_EQ(defaults.gmm_variance_floor, 1e-6);  // a numeric guard only
  EXPECT_EQ(defaults.crop, 216);
  // The reference code's choices (training/README.md's table): G on the finest scale, D on the mean
  // of the scales, no rainy-attention prior.
  EXPECT_EQ(defaults.g_adversarial_scales, "finest");
  EXPECT_EQ(defaults.d_adversarial_scales, "mean");
  EXPECT_FALSE(defaults.attention_prior);
  TrainingOptions scales;
  scales.applyText("train.adversarial.g_scales = sum\ntrain.adversarial.d_scales = finest\ntrain.attention.prior = true\n");
  EXPECT_EQ(scales.g_adversarial_scales, "sum");
  EXPECT_EQ(scales.d_adversarial_scales, "finest");
  EXPECT_TRUE(scales.attention_prior);
  TrainingOptions scales_back;
  scales_back.applyText(scales.toText());
  EXPECT_EQ(scales_back.toText(), scales.toText());
  EXPECT_THROW(scales.applyText("train.adversarial.g_scales = all\n"), Error);
  TrainingOptions bad_scales = defaults;
  bad_scales.d_adversarial_scales = "max";
  EXPECT_THROW(bad_scales.validate(ModelConfig::paper()), Error);
  TrainingOptions bad_crop = defaults;
  bad_crop.crop = 30;  // not a multiple of 4
  EXPECT_THROW(bad_crop.validate(ModelConfig::paper()), Error);

  EXPECT_EQ(defaults.weights.identity, 0.0);   // beyond the paper: off unless asked for
  EXPECT_EQ(defaults.weights.synthetic, 0.0);

  // The synthetic term's rain ranges: "min:max" or one number, validated like derain-synth's.
  TrainingOptions rain;
  rain.applyText("train.synthetic.density = 0.01 : 0.2\ntrain.synthetic.width = 1.5\ntrain.weight.synthetic = 4\n");
  EXPECT_EQ(rain.synthetic_rain.density.min, 0.01);
  EXPECT_EQ(rain.synthetic_rain.density.max, 0.2);
  EXPECT_EQ(rain.synthetic_rain.width.min, 1.5);
  EXPECT_EQ(rain.synthetic_rain.width.max, 1.5);
  EXPECT_EQ(rain.weights.synthetic, 4.0);
  TrainingOptions rain_back;
  rain_back.applyText(rain.toText());
  EXPECT_EQ(rain_back.toText(), rain.toText());
  EXPECT_THROW(rain.applyText("train.synthetic.length = 10:\n"), Error);
  EXPECT_THROW(rain.applyText("train.synthetic.wind = 1:2\n"), Error);
  TrainingOptions reversed;
  reversed.applyText("train.synthetic.density = 0.3:0.1\n");
  EXPECT_THROW(reversed.validate(ModelConfig::paper()), Error);
  TrainingOptions too_wide;
  too_wide.applyText("train.synthetic.width = 1:20\n");
  EXPECT_THROW(too_wide.validate(ModelConfig::paper()), Error);

  auto split = splitTrainerConfig("preset = lite\n  train.lr = 2e-4\nattention.stages = 3\n");
  EXPECT_EQ(split.model_text, "preset = lite\n\nattention.stages = 3\n");
  EXPECT_EQ(split.training_text, "\n  train.lr = 2e-4\n\n");
}

TEST(LearningRate, ConstantThenLinearDecay) {
  EXPECT_EQ(learningRateAt(0, 10, 1.0, 0.5), 1.0);
  EXPECT_EQ(learningRateAt(4, 10, 1.0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(learningRateAt(5, 10, 1.0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(learningRateAt(6, 10, 1.0, 0.5), 0.8);
  EXPECT_DOUBLE_EQ(learningRateAt(9, 10, 1.0, 0.5), 0.2);
  EXPECT_EQ(learningRateAt(10, 10, 1.0, 0.5), 0.0);
  EXPECT_EQ(learningRateAt(9, 10, 1.0, 1.0), 1.0);  // no decay
}

TEST(HistoryPool, FillsThenMixesOldAndNew) {
  HistoryPool pool(2);
  std::mt19937_64 rng(1);
  at::Tensor a = torch::full({1, 1, 1, 1}, 1.0), b = torch::full({1, 1, 1, 1}, 2.0);
  EXPECT_TRUE(torch::equal(pool.query(torch::cat({a, b}), rng), torch::cat({a, b})));  // filling: returned as is
  ASSERT_EQ(pool.images().size(), 2u);
  // Once full, every returned image is either the new one or one that was stored, and the pool
  // stays full; over many queries both cases happen.
  int old_returned = 0;
  for (int i = 0; i < 64; ++i) {
    at::Tensor fresh = torch::full({1, 1, 1, 1}, 100.0 + i);
    float got = pool.query(fresh, rng).item<float>();
    if (got != 100.0f + i) ++old_returned;
    EXPECT_EQ(pool.images().size(), 2u);
  }
  EXPECT_GT(old_returned, 16);
  EXPECT_LT(old_returned, 48);
  HistoryPool off(0);
  EXPECT_TRUE(torch::equal(off.query(a, rng), a));
  EXPECT_TRUE(off.images().empty());
}

TEST(Trainer, GeneratorStepUpdatesExactlyAttentionAndGenerators) {
  Trainer trainer(training_test::tinyConfig(), training_test::tinyTrainingOptions(10), torch::kCPU);
  auto before = snapshot(*trainer.model());
  StepLosses losses = trainer.generatorStep(randomBatch(1), randomBatch(2), 1e-3);
  const std::vector<std::string> g_side{"att.", "g_n.", "g_r."};
  const auto moved = changed(before, *trainer.model());
  size_t g_params = 0;
  for (const auto& [name, t] : before) {
    if (startsWithAny(name, g_side)) {
      ++g_params;
      EXPECT_TRUE(moved.count(name)) << name << " was not updated by the G step";
    } else {
      EXPECT_FALSE(moved.count(name)) << name << " was updated by the G step";
    }
  }
  EXPECT_GT(g_params, 10u);
  EXPECT_GT(losses.cycle, 0.0);
  EXPECT_GT(losses.adversarial, 0.0);
  EXPECT_EQ(losses.perceptual, 0.0);  // no VGG16 weights: off

  before = snapshot(*trainer.model());
  trainer.discriminatorStep(losses, 1e-3);
  const auto moved_d = changed(before, *trainer.model());
  for (const auto& [name, t] : before) {
    if (startsWithAny(name, {"d_n.", "d_r."}))
      EXPECT_TRUE(moved_d.count(name)) << name << " was not updated by the D step";
    else
      EXPECT_FALSE(moved_d.count(name)) << name << " was updated by the D step";
  }
  EXPECT_GT(losses.d_n, 0.0);
  EXPECT_GT(losses.d_r, 0.0);
}

TEST(Trainer, GeneratorTotalIsTheWeightedSumOfTheTerms) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  StepLosses l = trainer.generatorStep(randomBatch(3), randomBatch(4), 1e-4);
  const LossWeights& w = o.weights;
  const double expected = w.adversarial * l.adversarial + w.attention * (l.attention_r + l.attention_n) +
                          w.cycle * l.cycle + w.gmm * l.gmm + w.reconstruction * l.reconstruction;
  EXPECT_NEAR(l.generator, expected, 1e-4 * std::abs(expected) + 1e-5);
}

TEST(Trainer, WeightedSumIncludesTheTermsBeyondThePaper) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights.identity = 3;
  o.weights.synthetic = 7;
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  StepLosses l = trainer.generatorStep(randomBatch(3), randomBatch(4), 1e-4, randomBatch(8));
  const LossWeights& w = o.weights;
  EXPECT_GT(l.identity, 0.0);
  EXPECT_GT(l.synthetic, 0.0);
  const double expected = w.adversarial * l.adversarial + w.attention * (l.attention_r + l.attention_n) +
                          w.cycle * l.cycle + w.gmm * l.gmm + w.reconstruction * l.reconstruction +
                          3 * l.identity + 7 * l.synthetic;
  EXPECT_NEAR(l.generator, expected, 1e-4 * std::abs(expected) + 1e-5);
}

// Only the adversarial terms weighted, with one choice of scales each for G and D: the step's
// figures equal the LSGAN terms computed here from the discriminators' patch maps before the step.
struct AdversarialFigures {
  StepLosses losses;
  double expected_g = 0, expected_d_n = 0, expected_d_r = 0;
};

AdversarialFigures adversarialStep(const std::string& g_scales, const std::string& d_scales) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights = LossWeights{1, 0, 0, 0, 0, 0, 0, 0};
  o.g_adversarial_scales = g_scales;
  o.d_adversarial_scales = d_scales;
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);  // D with 2 scales
  DerainCycleGANImpl& m = *trainer.model();
  const at::Tensor r = randomBatch(21), n = randomBatch(22);
  AdversarialFigures out;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor n_r = m.g_n->forward(r, m.att->forward(r)), r_n = m.g_r->forward(n, m.att->forward(n));
    // Per-scale mean squared distance of the patch scores to the target.
    auto perScale = [](const std::vector<at::Tensor>& maps, double target) {
      std::vector<double> v;
      for (const auto& map : maps) v.push_back((map - target).pow(2).mean().item<double>());
      return v;
    };
    auto combine = [](const std::vector<double>& v, const std::string& how) {
      EXPECT_EQ(v.size(), 2u);
      if (how == "finest") return v[0];
      if (how == "mean") return (v[0] + v[1]) / 2;
      return v[0] + v[1];
    };
    out.expected_g = combine(perScale(m.d_n->forward(n_r), 1), g_scales) +
                     combine(perScale(m.d_r->forward(r_n), 1), g_scales);
    // The first D step sees the G step's own fakes (the history pool starts empty).
    out.expected_d_n = 0.5 * (combine(perScale(m.d_n->forward(n), 1), d_scales) +
                              combine(perScale(m.d_n->forward(n_r), 0), d_scales));
    out.expected_d_r = 0.5 * (combine(perScale(m.d_r->forward(r), 1), d_scales) +
                              combine(perScale(m.d_r->forward(r_n), 0), d_scales));
  }
  out.losses = trainer.step(r, n, 1e-4);
  return out;
}

TEST(Trainer, AdversarialScalesAreCombinedAsConfigured) {
  for (const auto& [g, d] : std::vector<std::pair<std::string, std::string>>{
           {"finest", "mean"}, {"sum", "sum"}, {"mean", "finest"}}) {
    SCOPED_TRACE("g " + g + ", d " + d);
    AdversarialFigures f = adversarialStep(g, d);
    EXPECT_NEAR(f.losses.adversarial, f.expected_g, 1e-5 * f.expected_g + 1e-7);
    EXPECT_NEAR(f.losses.d_n, f.expected_d_n, 1e-5 * f.expected_d_n + 1e-7);
    EXPECT_NEAR(f.losses.d_r, f.expected_d_r, 1e-5 * f.expected_d_r + 1e-7);
  }
}

TEST(TrainingOptions, RecipeNamedFromTheObjectiveUnlessGiven) {
  TrainingOptions o;
  o.iterations = 16000;
  o.weights.synthetic = 10;
  const std::string semi = o.recipeText(ModelConfig::lite(), false);
  EXPECT_EQ(semi.rfind("semi-supervised (synthetic pairs): lite preset, 16000 iterations,", 0), 0u) << semi;
  EXPECT_NE(semi.find("slope 0.2)"), std::string::npos) << semi;
  EXPECT_NE(semi.find("perceptual off,"), std::string::npos) << semi;
  o.weights.synthetic = 0;
  o.weights.identity = 2;
  EXPECT_EQ(o.recipeText(ModelConfig::lite(), true).rfind("unpaired + identity: ", 0), 0u);
  EXPECT_NE(o.recipeText(ModelConfig::lite(), true).find("perceptual 0.01,"), std::string::npos);
  o.recipe = "my recipe";
  EXPECT_EQ(o.recipeText(ModelConfig::lite(), true).rfind("my recipe: lite preset", 0), 0u);
  TrainingOptions back;
  back.applyText(o.toText());
  EXPECT_EQ(back.recipe, "my recipe");
  o.recipe = "two\nlines";
  EXPECT_THROW(o.validate(ModelConfig::lite()), Error);

  // models/make-default-model.sh's settings give the line recorded in the shipped model's file, plus
  // the pairs' source, which the trainer names since --pairs exists (the shipped file predates it).
  TrainingOptions shipped;
  shipped.iterations = 16000;
  shipped.crop = 128;
  shipped.lr = 2e-4;
  shipped.init = "he";
  shipped.weights = LossWeights{0.2, 1, 0.5, 0.01, 0, 0, 2, 10};
  shipped.g_adversarial_scales = "sum";
  shipped.d_adversarial_scales = "sum";
  shipped.attention_prior = true;
  shipped.recipe = "semi-supervised (synthetic pairs), shipped default";
  EXPECT_EQ(shipped.recipeText(ModelConfig::lite(), false),
            "semi-supervised (synthetic pairs), shipped default: lite preset, 16000 iterations, crop 128, batch 1, "
            "lr 0.0002, init he; adversarial 0.2 (G sum, D sum of 3 scales, slope 0.2), attention 1 (rainy prior "
            "on), cycle 0.5, perceptual off, gmm 0, reconstruction 0, identity 2, synthetic 10 (procedural pairs)");
}

TEST(Trainer, RainyAttentionPriorOnlyWhenEnabled) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  ASSERT_FALSE(o.attention_prior);
  StepLosses off = Trainer(training_test::tinyConfig(), o, torch::kCPU).generatorStep(randomBatch(3), randomBatch(4), 1e-4);
  EXPECT_EQ(off.attention_r, 0.0);
  EXPECT_GT(off.attention_n, 0.0);
  o.attention_prior = true;
  StepLosses on = Trainer(training_test::tinyConfig(), o, torch::kCPU).generatorStep(randomBatch(3), randomBatch(4), 1e-4);
  EXPECT_GT(on.attention_r, 0.01);  // a mask far from a prior of mean 0.5
  EXPECT_EQ(on.attention_n, off.attention_n);
}

// Only one term weighted: its value is what the networks give before the step, and the gradient
// reaches exactly the networks that the term involves.
struct SingleTerm {
  StepLosses losses;
  double expected = 0;
  double grad_att = 0, grad_g_n = 0, grad_g_r = 0;
};

SingleTerm stepWithOnly(double identity, double synthetic) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights = LossWeights{0, 0, 0, 0, 0, 0, identity, synthetic};  // only the term(s) under test
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  DerainCycleGANImpl& m = *trainer.model();
  const at::Tensor r = randomBatch(11), n = randomBatch(12), s = randomBatch(13);
  SingleTerm out;
  {
    torch::NoGradGuard no_grad;
    auto meanSquare = [](const at::Tensor& a, const at::Tensor& b) { return (a - b).pow(2).mean().item<double>(); };
    if (identity > 0)
      out.expected = meanSquare(m.g_n->forward(n, m.att->forward(n)), n) +
                     meanSquare(m.g_r->forward(r, m.att->forward(r)), r);
    else
      out.expected = meanSquare(m.g_n->forward(s, m.att->forward(s)), n);
  }
  out.losses = trainer.generatorStep(r, n, 1e-4, s);
  auto gradSum = [](torch::nn::Module& module) {
    double sum = 0;
    for (const auto& p : module.parameters())
      if (p.grad().defined()) sum += p.grad().abs().sum().item<double>();
    return sum;
  };
  out.grad_att = gradSum(*m.att);
  out.grad_g_n = gradSum(*m.g_n);
  out.grad_g_r = gradSum(*m.g_r);
  return out;
}

TEST(Trainer, IdentityTermKeepsEachDomainUnchanged) {
  SingleTerm t = stepWithOnly(1.0, 0.0);
  EXPECT_NEAR(t.losses.identity, t.expected, 1e-6);
  EXPECT_NEAR(t.losses.generator, t.expected, 1e-6);
  EXPECT_EQ(t.losses.synthetic, 0.0);
  EXPECT_GT(t.grad_g_n, 0.0);
  EXPECT_GT(t.grad_g_r, 0.0);
  EXPECT_GT(t.grad_att, 0.0);
}

TEST(Trainer, SyntheticTermDerainsProceduralRainBackToTheCleanCrop) {
  SingleTerm t = stepWithOnly(0.0, 2.0);
  EXPECT_NEAR(t.losses.synthetic, t.expected, 1e-6);
  EXPECT_NEAR(t.losses.generator, 2.0 * t.expected, 2e-6);
  EXPECT_EQ(t.losses.identity, 0.0);
  EXPECT_GT(t.grad_g_n, 0.0);
  EXPECT_GT(t.grad_att, 0.0);
  EXPECT_EQ(t.grad_g_r, 0.0);  // G_R plays no part in it

  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights.synthetic = 1;
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  EXPECT_THROW(trainer.generatorStep(randomBatch(1), randomBatch(2), 1e-4), Error);  // no rained batch
}

TEST(WeightInit, HeStartsResidualGeneratorsAtTheIdentityWithHeScaledConvs) {
  ModelConfig config = training_test::tinyConfig();
  config.generator.residual = true;
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.init = "he";
  Trainer trainer(config, o, torch::kCPU);
  DerainCycleGANImpl& m = *trainer.model();
  const at::Tensor x = randomBatch(21);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(m.g_n->forward(x, m.att->forward(x)), x));
  EXPECT_TRUE(torch::equal(m.g_r->forward(x, m.att->forward(x)), x));
  // A wide conv's weights have the He std sqrt(2 / fan_in) (fan_in = in channels x kernel area).
  int checked = 0;
  for (const auto& item : m.named_parameters()) {
    const at::Tensor& p = item.value();
    if (p.dim() == 4 && p.numel() >= 4000 && item.key().rfind("d_n.", 0) == 0) {
      const double fan_in = static_cast<double>(p.size(1) * p.size(2) * p.size(3));
      EXPECT_NEAR(p.std().item<double>(), std::sqrt(2.0 / fan_in), 0.1 * std::sqrt(2.0 / fan_in)) << item.key();
      ++checked;
    }
    if (p.dim() == 1) {
      EXPECT_EQ(p.abs().max().item<double>(), 0.0) << item.key();  // biases start at 0
    }
  }
  EXPECT_GT(checked, 0);
  // The paper's init: every conv N(0, 0.02), so the generators are not the identity.
  Trainer paper(config, training_test::tinyTrainingOptions(10), torch::kCPU);
  EXPECT_FALSE(torch::equal(paper.model()->g_n->forward(x, paper.model()->att->forward(x)), x));
  EXPECT_THROW(parseWeightInit("xavier"), Error);
  o.init = "xavier";
  EXPECT_THROW(o.validate(config), Error);
  EXPECT_THROW(o.applyText("train.init = xavier\n"), Error);
}

TEST(Trainer, PerceptualGradientReachesTheDerainingGenerator) {
  TempDir dir;
  torch::manual_seed(5);
  saveVGG16Features(VGG16Features(), dir.file("vgg.derain"));
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights = LossWeights{0, 0, 0, 1.0, 0, 0};  // only the perceptual term
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU, loadVGG16Features(dir.file("vgg.derain")));
  ASSERT_TRUE(trainer.perceptualEnabled());
  StepLosses l = trainer.generatorStep(randomBatch(5), randomBatch(6), 1e-4);
  EXPECT_GT(l.perceptual, 0.0);
  double g_n_grad = 0, g_r_grad = 0;
  for (const auto& p : trainer.model()->g_n->parameters())
    if (p.grad().defined()) g_n_grad += p.grad().abs().sum().item<double>();
  for (const auto& p : trainer.model()->g_r->parameters())
    if (p.grad().defined()) g_r_grad += p.grad().abs().sum().item<double>();
  EXPECT_GT(g_n_grad, 0.0);   // phi(n_r) is not detached
  EXPECT_EQ(g_r_grad, 0.0);   // G_R plays no part in L_p
}

TEST(TrainingData, UnreadableAndTooSmallImagesAreSkippedAndCounted) {
  TempDir dir;
  auto files = training_test::writeDomain(dir.file("rainy"), 3, 40, true, 1);
  { std::ofstream(dir.file("rainy/broken.png")) << "this is not a PNG"; }
  cv::imwrite(dir.file("rainy/tiny.png"), training_test::makeScene(20, 50, 3));
  files.push_back(dir.file("rainy/broken.png"));
  files.push_back(dir.file("rainy/tiny.png"));
  std::vector<std::string> warnings;
  ImageDomain domain("rainy", files, 32, 2, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(domain.size(), 3u);
  EXPECT_EQ(domain.skipped(), 2);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("broken.png"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("tiny.png"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[1].find("smaller"), std::string::npos) << warnings[1];

  // Nothing usable at all is a clear error.
  try {
    ImageDomain none("clean", {dir.file("rainy/broken.png")}, 32, 1, nullptr);
    FAIL() << "expected derain::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no usable clean images"), std::string::npos) << e.what();
  }
}

TEST(TrainingData, BatchesArePureFunctionsOfSeedAndIteration) {
  TempDir dir;
  std::vector<std::string> warnings;
  ImageDomain rainy("rainy", training_test::writeDomain(dir.file("r"), 5, 40, true, 1), 32, 2, nullptr);
  ImageDomain clean("clean", training_test::writeDomain(dir.file("c"), 3, 40, false, 2), 32, 2, nullptr);
  // One epoch (5 iterations, batch 1) visits every rainy image once; clean ones are drawn at random.
  std::set<size_t> seen;
  for (int64_t it = 0; it < 5; ++it) {
    BatchPlan plan = planBatch(9, it, 1, 32, rainy, clean);
    seen.insert(plan.rainy[0].index);
    const cv::Size size = rainy.imageSize(plan.rainy[0].index);
    EXPECT_LE(plan.rainy[0].x + 32, size.width);
    EXPECT_LE(plan.rainy[0].y + 32, size.height);
    EXPECT_LT(plan.clean[0].index, 3u);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(iterationsPerEpoch(5, 3, 2), 3);

  // The prefetcher's batches equal synchronous loading, in order, whatever its threads do.
  BatchPrefetcher loader(rainy, clean, 9, 2, 32, 3, 9, 3, 2);
  for (int64_t it = 3; it < 9; ++it) {
    TrainingBatch got = loader.next();
    TrainingBatch want = loadBatch(planBatch(9, it, 2, 32, rainy, clean), it, 32, rainy, clean);
    EXPECT_EQ(got.iteration, it);
    EXPECT_EQ(got.rainy.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
    EXPECT_TRUE(torch::equal(got.rainy, want.rainy));
    EXPECT_TRUE(torch::equal(got.clean, want.clean));
  }
  EXPECT_THROW(loader.next(), Error);
}

TEST(TrainingData, SyntheticRainIsDrawnOverTheCleanCrops) {
  TempDir dir;
  ImageDomain rainy("rainy", training_test::writeDomain(dir.file("r"), 3, 48, true, 1), 32, 1, nullptr);
  ImageDomain clean("clean", training_test::writeDomain(dir.file("c"), 3, 48, false, 2), 32, 1, nullptr);
  RainParamRanges ranges;
  ranges.density = {0.1, 0.15};
  const BatchPlan plain = planBatch(4, 6, 2, 32, rainy, clean);
  const BatchPlan plan = planBatch(4, 6, 2, 32, rainy, clean, &ranges);
  EXPECT_TRUE(plain.synthetic_rain.empty());
  ASSERT_EQ(plan.synthetic_rain.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {  // the rain has a stream of its own: crops are those of a plain run
    EXPECT_EQ(plan.clean[i].index, plain.clean[i].index);
    EXPECT_EQ(plan.clean[i].x, plain.clean[i].x);
    EXPECT_EQ(plan.clean[i].flip, plain.clean[i].flip);
    EXPECT_EQ(plan.rainy[i].index, plain.rainy[i].index);
    EXPECT_GE(plan.synthetic_rain[i].density, 0.1);
    EXPECT_LE(plan.synthetic_rain[i].density, 0.15);
  }
  EXPECT_NE(plan.synthetic_rain[0].seed, plan.synthetic_rain[1].seed);
  EXPECT_EQ(planBatch(4, 6, 2, 32, rainy, clean, &ranges).synthetic_rain[1].seed, plan.synthetic_rain[1].seed);

  const TrainingBatch b = loadBatch(plan, 6, 32, rainy, clean);
  EXPECT_FALSE(loadBatch(plain, 6, 32, rainy, clean).synthetic.defined());
  ASSERT_TRUE(b.synthetic.defined());
  ASSERT_EQ(b.synthetic.sizes(), b.clean.sizes());
  // Second image: the crop by hand, flipped as planned, rained with its parameters.
  const CropSpec& spec = plan.clean[1];
  cv::Mat patch = clean.load(spec.index)(cv::Rect(spec.x, spec.y, 32, 32)).clone(), rained;
  if (spec.flip) cv::flip(patch, patch, 1);
  addRain(patch, rained, plan.synthetic_rain[1]);
  double max_error = 0;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) {
        const double want = rained.at<cv::Vec3b>(y, x)[c] / 127.5 - 1;
        max_error = std::max(max_error, std::abs(b.synthetic[1][c][y][x].item<double>() - want));
      }
  EXPECT_LT(max_error, 1e-6);
  // Additive rain without a veil only brightens, and at this density it shows.
  EXPECT_GE((b.synthetic - b.clean).min().item<double>(), 0.0);
  EXPECT_GT((b.synthetic - b.clean).mean().item<double>(), 0.005);
}

TEST(TrainingData, CropFlipAndScaling) {
  TempDir dir;
  // Pixel (x, y) has R = x, G = y, B = 255 (written as BGR).
  cv::Mat img(40, 48, CV_8UC3);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(255, y, x);
  cv::imwrite(dir.file("ramp.png"), img);
  ImageDomain domain("rainy", {dir.file("ramp.png")}, 32, 1, nullptr);
  BatchPlan plan;
  plan.rainy = {CropSpec{0, 5, 3, false}, CropSpec{0, 5, 3, true}};
  plan.clean = plan.rainy;
  TrainingBatch b = loadBatch(plan, 0, 32, domain, domain);
  auto pix = [&](int n, int c, int y, int x) { return b.rainy[n][c][y][x].item<float>(); };
  EXPECT_FLOAT_EQ(pix(0, 0, 0, 0), 5 / 127.5f - 1);           // R = x = 5
  EXPECT_FLOAT_EQ(pix(0, 1, 2, 0), 5 / 127.5f - 1);           // G = y = 3 + 2
  EXPECT_FLOAT_EQ(pix(0, 2, 7, 9), 1.0f);                     // B = 255
  EXPECT_FLOAT_EQ(pix(1, 0, 0, 0), (5 + 31) / 127.5f - 1);    // flipped: leftmost is the crop's last column
}

TEST(TrainingRun, ThirtyIterationsLowerTheCycleLoss) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 30);
  run.training.lr = 1e-3;  // tiny nets, few steps
  run.sample_every = 10;
  run.plot_every = 10;
  TrainingRunResult result = runTraining(run);
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.iterations_done, 30);
  auto lines = csvLines(result.log_path);
  ASSERT_EQ(lines.size(), 31u);
  EXPECT_EQ(lines[0], LossLog::header());
  const double first = columnMean(lines, "cycle", 1, 5), last = columnMean(lines, "cycle", 26, 30);
  EXPECT_LT(last, 0.9 * first) << "cycle loss " << first << " -> " << last;
  for (const char* f : {"samples/iter_0000010.png", "samples/iter_0000030.png", "loss_plot.png", "model.derain",
                        "checkpoint.derain", "training.conf"})
    EXPECT_TRUE(std::filesystem::exists(data.file(std::string("out/") + f))) << f;
  cv::Mat grid = cv::imread(data.file("out/samples/iter_0000030.png"));
  EXPECT_EQ(grid.cols, 3 * 32);
  EXPECT_EQ(grid.rows, 2 * (32 + 18));
  cv::Mat plot = cv::imread(data.file("out/loss_plot.png"));
  EXPECT_EQ(plot.size(), cv::Size(1000, 600));
}

TEST(TrainingRun, ResumeReproducesTheUninterruptedRunBitwise) {
  TempDir data;
  const int64_t total = 12;
  TrainingRunOptions full = tinyRun(data, data.file("full"), total);
  full.checkpoint_every = 4;
  ASSERT_TRUE(runTraining(full).completed);

  TrainingRunOptions split = tinyRun(data, data.file("split"), total);
  split.checkpoint_every = 4;
  split.stop_after = 6;
  TrainingRunResult first = runTraining(split);
  EXPECT_FALSE(first.completed);
  EXPECT_EQ(first.iterations_done, 6);
  EXPECT_FALSE(std::filesystem::exists(data.file("split/model.derain")));
  // A fresh run into a folder holding one is refused instead of overwriting it.
  split.stop_after = 0;
  EXPECT_THROW(runTraining(split), Error);

  // Rows a crashed run logged after its last checkpoint are dropped on resume.
  {
    std::ofstream csv(data.file("split/losses.csv"), std::ios::app);
    csv << "7,1,2,3,4,5,6,7,8,9,10,11\n8,1,2,3,4,5,6,7,8,9,10,11\n";
  }
  split.resume = true;
  split.config = ModelConfig::lite();  // ignored: the checkpoint holds the run's settings
  TrainingRunResult second = runTraining(split);
  EXPECT_TRUE(second.completed);
  EXPECT_EQ(second.first_iteration, 6);
  EXPECT_EQ(second.iterations_done, total);

  auto a = csvLines(data.file("full/losses.csv")), b = csvLines(data.file("split/losses.csv"));
  ASSERT_EQ(a.size(), static_cast<size_t>(total + 1));
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "row " << i;
  EXPECT_EQ(training_test::readBytes(data.file("full/model.derain")),
            training_test::readBytes(data.file("split/model.derain")));
}

TEST(TrainingRun, SyntheticTermFallsWhileTraining) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 100);
  run.training.lr = 2e-3;
  run.training.weights = LossWeights{};
  run.training.weights.synthetic = 10;
  run.training.synthetic_rain.density = {0.08, 0.12};
  TrainingRunResult result = runTraining(run);
  ASSERT_TRUE(result.completed);
  auto lines = csvLines(result.log_path);
  ASSERT_EQ(lines.size(), 101u);
  const double first = columnMean(lines, "synthetic", 1, 10), last = columnMean(lines, "synthetic", 91, 100);
  EXPECT_GT(first, 0.0);
  EXPECT_LT(last, 0.7 * first) << "synthetic loss " << first << " -> " << last;
}

TEST(TrainingRun, ResumeNeedsACheckpoint) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 3);
  run.resume = true;
  EXPECT_THROW(runTraining(run), Error);
  std::filesystem::create_directories(data.file("out"));
  { std::ofstream(data.file("out/checkpoint.derain")) << "garbage"; }
  EXPECT_THROW(runTraining(run), ModelFileError);
}

TEST(TrainingRun, ImageVanishingMidRunStopsWithACheckpointAndAClearError) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 40);
  run.image_cache_bytes = 0;  // re-read every image from disk
  const std::string victim = run.rainy_files[2];
  run.progress = [&](int64_t done, int64_t, const StepLosses&) {
    if (done == 3) std::filesystem::remove(victim);
  };
  try {
    runTraining(run);
    FAIL() << "expected derain::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
  }
  CheckpointInfo info = readCheckpoint(data.file("out/checkpoint.derain"));
  EXPECT_GE(info.iteration, 3);
  EXPECT_LT(info.iteration, 40);
}

// A checkpoint from before the scale / prior / slope settings existed resumes with the behaviour it
// was trained with (then the only one), not with today's defaults.
TEST(TrainingRun, CheckpointWithoutTheNewSettingsResumesWithTheFormerBehaviour) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 2);
  runTraining(run);
  const std::string path = data.file("out/checkpoint.derain");
  CheckpointInfo current = readCheckpoint(path);
  EXPECT_EQ(current.options.g_adversarial_scales, "finest");
  EXPECT_EQ(current.config.discriminator.leaky_slope, 0.01);
  // Drop the new keys, as an older trainer wrote the file.
  ContainerFile file = readContainer(path);
  for (auto& [key, value] : file.meta) {
    std::stringstream in(value);
    std::string kept;
    for (std::string line; std::getline(in, line);)
      if (line.find("adversarial.") == std::string::npos && line.find("attention.prior") == std::string::npos &&
          line.find("leaky_slope") == std::string::npos)
        kept += line + "\n";
    value = kept;
  }
  writeContainer(path, file);
  CheckpointInfo old = readCheckpoint(path);
  EXPECT_EQ(old.options.g_adversarial_scales, "sum");
  EXPECT_EQ(old.options.d_adversarial_scales, "sum");
  EXPECT_TRUE(old.options.attention_prior);
  EXPECT_EQ(old.config.discriminator.leaky_slope, 0.2);
  EXPECT_EQ(old.options.weights.gmm, current.options.weights.gmm);  // the rest as stored
}

TEST(TrainingRun, ResumeOnOtherDataWarns) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 4);
  run.stop_after = 2;
  runTraining(run);
  std::vector<std::string> messages;
  run.message = [&](const std::string& m) { messages.push_back(m); };
  run.resume = true;
  run.stop_after = 0;
  run.rainy_files.pop_back();
  EXPECT_TRUE(runTraining(run).completed);
  bool warned = false;
  for (const auto& m : messages) warned |= m.find("differ from the checkpoint") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(TrainingRun, ExportedModelLoadsInTheInferenceEngine) {
  TempDir data;
  TrainingRunOptions run = tinyRun(data, data.file("out"), 2);
  TrainingRunResult result = runTraining(run);
  ASSERT_TRUE(result.completed);

  EngineOptions cpu;
  cpu.device = Device::CPU;
  cpu.threads = 1;
  Engine engine(result.model_path, cpu);
  EXPECT_EQ(engine.config(), training_test::tinyConfig());
  EXPECT_TRUE(engine.trained());
  // The recipe line: named from the objective (no synthetic or identity term: unpaired), then the
  // settings. tinyTrainingOptions keeps the paper's weights and the reference's scales.
  EXPECT_EQ(engine.recipe(),
            "unpaired: custom preset, 2 iterations, crop 32, batch 1, lr 0.0001, init paper; adversarial 1 "
            "(G finest, D mean of 2 scales, slope 0.01), attention 10 (rainy prior off), cycle 10, perceptual off, "
            "gmm 10, reconstruction 10, identity 0, synthetic 0");
  // save() keeps it; an engine from a checkpoint (no recipe meta) has none.
  engine.save(data.file("resaved.derain"));
  EXPECT_EQ(Engine(data.file("resaved.derain"), cpu).recipe(), engine.recipe());
  EXPECT_EQ(Engine(result.checkpoint_path, cpu).recipe(), "");
  EXPECT_EQ(Engine::untrained(training_test::tinyConfig(), 1, cpu).recipe(), "");

  // Same weights as the checkpoint: the engine's derain (G_N's output as it is) equals the network
  // run by hand.
  EngineOptions raw = cpu;
  raw.grey_rain = false;
  Engine raw_engine(result.model_path, raw);
  DerainCycleGAN net(training_test::tinyConfig(), false);
  ContainerFile ckpt = readContainer(result.checkpoint_path);
  loadParameters(*net, ckpt, result.checkpoint_path, kInferencePrefixes);
  cv::Mat scene = training_test::makeRainyScene(32, 32, 4), scene_f, out;
  scene.convertTo(scene_f, CV_32FC3, 1.0 / 255);
  raw_engine.derain(scene_f, out, ColorOrder::BGR);
  torch::NoGradGuard no_grad;
  at::Tensor mine = net->derain(imageToTensor(scene_f, ColorOrder::BGR).contiguous());
  cv::Mat expected = tensorToImage(mine, CV_32FC3, ColorOrder::BGR);
  ASSERT_EQ(out.size(), expected.size());
  EXPECT_LT(cv::norm(out, expected, cv::NORM_INF), 1e-4);

  // The checkpoint is loadable by the engine too, with the same result.
  Engine from_checkpoint(result.checkpoint_path, raw);
  cv::Mat out2;
  from_checkpoint.derain(scene_f, out2, ColorOrder::BGR);
  EXPECT_EQ(cv::norm(out, out2, cv::NORM_INF), 0.0);
}

// Records, for each phase range of the steps (trainer.cpp's StepPhase), whether the thread running
// it flushed denormal floats.
std::mutex g_phase_mutex;
std::map<std::string, bool> g_phase_flushes;

std::unique_ptr<at::ObserverContext> notePhase(const at::RecordFunction& fn) {
  std::lock_guard<std::mutex> lock(g_phase_mutex);
  g_phase_flushes[fn.name()] = FlushDenormalsScope::active();
  return nullptr;
}

std::map<std::string, bool> phasesFlushing(Trainer& trainer, bool whole_step) {
  {
    std::lock_guard<std::mutex> lock(g_phase_mutex);
    g_phase_flushes.clear();
  }
  const at::CallbackHandle handle =
      at::addGlobalCallback(at::RecordFunctionCallback(notePhase).scopes({at::RecordScope::USER_SCOPE}));
  if (whole_step) {
    trainer.step(randomBatch(1), randomBatch(2), 1e-4);
  } else {
    StepLosses losses = trainer.generatorStep(randomBatch(1), randomBatch(2), 1e-4);
    trainer.discriminatorStep(losses, 1e-4);
  }
  at::removeCallback(handle);
  std::lock_guard<std::mutex> lock(g_phase_mutex);
  return g_phase_flushes;
}

TEST(Trainer, StepsFlushDenormalsWhileTheyRunAndRestoreTheModeAfter) {
  Trainer trainer(training_test::tinyConfig(), training_test::tinyTrainingOptions(10), torch::kCPU);
  ASSERT_FALSE(FlushDenormalsScope::active());
  EXPECT_TRUE(trainer.flushDenormals());  // the default
  for (const bool whole_step : {true, false}) {
    const auto phases = phasesFlushing(trainer, whole_step);
    ASSERT_EQ(phases.size(), 9u);  // every phase of both halves reported
    for (const auto& [name, flushing] : phases) EXPECT_TRUE(flushing) << name << (whole_step ? " (step)" : "");
    EXPECT_FALSE(FlushDenormalsScope::active());
  }
  trainer.setFlushDenormals(false);
  for (const auto& [name, flushing] : phasesFlushing(trainer, true)) EXPECT_FALSE(flushing) << name;
}

// At weight 0 the GMM term adds only zeros to the gradients, so skipping its EM fit must leave the
// run exactly as it was when every step fitted it (gmm.log_every = 1 keeps the old path each step).
TEST(Trainer, GmmFitSkippedAtWeightZeroLeavesTheWeightsBitwiseUnchanged) {
  auto run = [](int log_every, std::vector<double>& logged) {
    TrainingOptions o = training_test::tinyTrainingOptions(10);
    o.weights.gmm = 0;
    o.gmm_log_every = log_every;
    auto trainer = std::make_unique<Trainer>(training_test::tinyConfig(), o, torch::kCPU);
    for (int i = 0; i < 4; ++i) logged.push_back(trainer->step(randomBatch(10 + i), randomBatch(20 + i), 1e-3).gmm);
    return trainer;
  };
  std::vector<double> every_step, every_third, never;
  auto fitted = run(1, every_step), sometimes = run(3, every_third), skipped = run(0, never);
  EXPECT_TRUE(fitted->gmm().initialised());
  EXPECT_FALSE(skipped->gmm().initialised());  // no EM fit ran
  const auto reference = snapshot(*fitted->model());
  EXPECT_TRUE(changed(reference, *skipped->model()).empty());
  EXPECT_TRUE(changed(reference, *sometimes->model()).empty());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isfinite(every_step[i])) << i;  // logged where fitted
    EXPECT_TRUE(std::isnan(never[i])) << i;
    if (i % 3 == 0) EXPECT_TRUE(std::isfinite(every_third[i])) << i;
    else EXPECT_TRUE(std::isnan(every_third[i])) << i;
  }
  EXPECT_EQ(every_third[0], every_step[0]);  // the same first fit on the same residual
}

// bf16 forward passes: the losses of a short run stay within 1% of fp32's (bf16 keeps 8 bits of
// mantissa; this run measured at most 0.4%), yet differ (the convolutions did run in bf16), and the
// weights the optimiser keeps stay fp32.
TEST(Trainer, Bf16StepsTrackTheFp32LossesWithFp32MasterWeights) {
  auto run = [](const std::string& precision) {
    TrainingOptions o = training_test::tinyTrainingOptions(10);
    o.precision = precision;
    auto trainer = std::make_unique<Trainer>(training_test::tinyConfig(), o, torch::kCPU);
    std::vector<StepLosses> losses;
    for (int i = 0; i < 3; ++i) losses.push_back(trainer->step(randomBatch(30 + i), randomBatch(40 + i), 1e-3));
    return std::make_pair(std::move(trainer), losses);
  };
  auto [fp32, fp32_losses] = run("fp32");
  auto [bf16, bf16_losses] = run("bf16");
  EXPECT_FALSE(at::autocast::is_cpu_enabled());  // the steps' autocast ended with them
  constexpr double kRelativeTolerance = 0.01;  // measured: at most 0.4%
  int differing = 0;
  for (size_t step = 0; step < fp32_losses.size(); ++step) {
    const auto a = fp32_losses[step].values(), b = bf16_losses[step].values();
    for (size_t i = 0; i < StepLosses::kCount; ++i) {
      EXPECT_NEAR(b[i], a[i], kRelativeTolerance * std::abs(a[i]) + 1e-6)
          << StepLosses::names()[i] << " at step " << step;
      if (a[i] != b[i]) ++differing;
    }
  }
  EXPECT_GT(differing, 10);  // bf16 arithmetic, not fp32 under another name
  for (const auto& p : bf16->model()->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
  for (const auto& image : {bf16->lastImages().derained, bf16->lastImages().rainmade})
    EXPECT_EQ(image.scalar_type(), at::kFloat);  // samples and the pools hold fp32 images
}

TEST(Trainer, BatchesOfSeveralImages) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.batch = 3;
  o.pool_size = 2;
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  torch::manual_seed(8);
  at::Tensor r = torch::rand({3, 3, 32, 32}) * 2 - 1, n = torch::rand({3, 3, 32, 32}) * 2 - 1;
  StepLosses l = trainer.step(r, n, 1e-4);
  for (double v : l.values()) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(trainer.poolClean().images().size(), 2u);  // capped at its capacity
  EXPECT_EQ(trainer.iteration(), 1);
  EXPECT_EQ(trainer.lastImages().rainy.size(0), 1);   // the sample grid shows the first of the batch
  EXPECT_THROW(trainer.step(r, n.narrow(0, 0, 2), 1e-4), Error);  // mismatched batches
}

TEST(LossPlot, DrawsOneColouredLinePerTermAndALegend) {
  std::vector<LossRow> rows;
  for (int i = 1; i <= 50; ++i) {
    LossRow r;
    r.iteration = i;
    for (size_t t = 0; t < StepLosses::kCount; ++t) r.values[t] = 1.0 + t + 0.01 * i;
    rows.push_back(r);
  }
  cv::Mat plot = drawLossPlot(rows, {800, 400});
  EXPECT_EQ(plot.size(), cv::Size(800, 400));
  // The first term's colour (BGR 180,119,31) is drawn (its polyline and legend sample).
  cv::Mat mask;
  cv::inRange(plot, cv::Scalar(180, 119, 31), cv::Scalar(180, 119, 31), mask);
  EXPECT_GT(cv::countNonZero(mask), 40);
  EXPECT_THROW(drawLossPlot({}), Error);
}
