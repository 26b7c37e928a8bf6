// The synthetic-pair term's pairs from disk (derain-train --pairs): the loader pairs files by name
// and crops both images of a pair through one window, bad pair folders are one-line errors naming
// the file, the term's target is the pair's clean image, and the setting reaches the recipe line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "training/batch_plan.h"
#include "training/batch_prefetcher.h"
#include "training/image_pairs.h"
#include "training/trainer.h"
#include "training/training_options.h"
#include "training/training_run.h"
#include "training_test_support.h"

using namespace derain;
using namespace derain::detail;
using training_test::TempDir;

namespace {

// Clean pixel (x, y) = (x, y, 7 * (x + y) mod 256) as RGB: every window position and flip tells apart.
// Its rainy partner is the same plus `offset` in each channel, so the two crops of one window differ
// by exactly `offset` and any shift between them shows.
cv::Mat rampRGB(int width, int height, int offset) {
  cv::Mat rgb(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x + offset), static_cast<uchar>(y + offset),
                                          static_cast<uchar>((7 * (x + y)) % 200 + offset));
  return rgb;
}

void writeRGB(const std::string& path, const cv::Mat& rgb) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  ASSERT_TRUE(cv::imwrite(path, bgr)) << path;
}

// DIR/rainy/pN.png and DIR/clean/pN.png (N < count), sizes differing per pair.
void writePairs(const TempDir& dir, int count) {
  for (int i = 0; i < count; ++i) {
    const std::string name = "p" + std::to_string(i) + ".png";
    writeRGB(dir.file("pairs/clean/" + name), rampRGB(40 + 5 * i, 36 + 3 * i, 0));
    writeRGB(dir.file("pairs/rainy/" + name), rampRGB(40 + 5 * i, 36 + 3 * i, 30));
  }
}

std::string recipeOf(const std::string& model) {
  EngineOptions cpu;
  cpu.device = Device::CPU;
  cpu.threads = 1;
  return Engine(model, cpu).recipe();
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(ImagePairs, BothImagesOfAPairGetTheSameCropWindowAndFlip) {
  TempDir dir;
  writePairs(dir, 3);
  ImageDomain rainy("rainy", training_test::writeDomain(dir.file("r"), 2, 40, true, 1), 32, 1, nullptr);
  ImageDomain clean("clean", training_test::writeDomain(dir.file("c"), 2, 40, false, 2), 32, 1, nullptr);
  ImagePairs pairs(dir.file("pairs"), 32, 2);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs.imageSize(2), cv::Size(50, 42));

  bool saw_flip = false, saw_plain = false;
  for (int64_t it = 0; it < 12; ++it) {
    const BatchPlan plan = planBatch(5, it, 2, 32, rainy, clean, nullptr, &pairs);
    const BatchPlan plain = planBatch(5, it, 2, 32, rainy, clean);
    ASSERT_EQ(plan.pairs.size(), 2u);
    EXPECT_TRUE(plan.synthetic_rain.empty());
    const TrainingBatch b = loadBatch(plan, it, 32, rainy, clean, &pairs);
    ASSERT_TRUE(b.synthetic.defined());
    ASSERT_TRUE(b.synthetic_clean.defined());
    for (size_t i = 0; i < 2; ++i) {
      // The pairs have a stream of their own: the unpaired crops are those of a run without them.
      EXPECT_EQ(plan.clean[i].index, plain.clean[i].index);
      EXPECT_EQ(plan.clean[i].x, plain.clean[i].x);
      EXPECT_EQ(plan.rainy[i].y, plain.rainy[i].y);
      const CropSpec& spec = plan.pairs[i];
      (spec.flip ? saw_flip : saw_plain) = true;
      // The clean crop is the planned window of the clean image, flipped as planned ...
      for (int y : {0, 17, 31})
        for (int x : {0, 9, 31}) {
          const int src_x = spec.x + (spec.flip ? 31 - x : x), src_y = spec.y + y;
          EXPECT_FLOAT_EQ(b.synthetic_clean[i][0][y][x].item<float>(), static_cast<float>(src_x / 127.5 - 1));
          EXPECT_FLOAT_EQ(b.synthetic_clean[i][1][y][x].item<float>(), static_cast<float>(src_y / 127.5 - 1));
        }
      // ... and the rainy crop is bitwise the same window: it differs by the partner's offset only.
      const at::Tensor shift = (b.synthetic[i] + 1) * 127.5 - (b.synthetic_clean[i] + 1) * 127.5;
      EXPECT_NEAR(shift.min().item<double>(), 30.0, 1e-3);
      EXPECT_NEAR(shift.max().item<double>(), 30.0, 1e-3);
    }
  }
  EXPECT_TRUE(saw_flip && saw_plain);
  // A plan naming pairs needs them.
  EXPECT_THROW(loadBatch(planBatch(5, 0, 1, 32, rainy, clean, nullptr, &pairs), 0, 32, rainy, clean), Error);

  // The prefetcher hands out exactly the synchronous batches.
  BatchPrefetcher loader(rainy, clean, 5, 2, 32, 0, 4, 2, 2, std::nullopt, 0, 1, &pairs);
  for (int64_t it = 0; it < 4; ++it) {
    const TrainingBatch got = loader.next();
    const TrainingBatch want = loadBatch(planBatch(5, it, 2, 32, rainy, clean, nullptr, &pairs), it, 32, rainy, clean, &pairs);
    EXPECT_TRUE(torch::equal(got.synthetic, want.synthetic));
    EXPECT_TRUE(torch::equal(got.synthetic_clean, want.synthetic_clean));
  }
}

TEST(ImagePairs, NamesPairAcrossExtensions) {
  TempDir dir;
  writeRGB(dir.file("pairs/rainy/a.png"), rampRGB(40, 40, 30));
  writeRGB(dir.file("pairs/clean/a.jpg"), rampRGB(40, 40, 0));
  { std::ofstream(dir.file("pairs/clean/.hidden")) << "ignored"; }
  ImagePairs pairs(dir.file("pairs"), 32, 1);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs.cleanPath(0), dir.file("pairs/clean/a.jpg"));
  EXPECT_EQ(pairs.rainyPath(0), dir.file("pairs/rainy/a.png"));
}

TEST(ImagePairs, BadPairFoldersAreOneLineErrorsNamingTheFile) {
  auto oneLine = [](const std::string& e) { EXPECT_EQ(e.find('\n'), std::string::npos) << e; };
  {
    TempDir dir;
    writePairs(dir, 2);
    std::filesystem::remove_all(dir.file("pairs/clean"));
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find(dir.file("pairs/clean")), std::string::npos) << e;
    EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
    oneLine(e);
  }
  {
    TempDir dir;
    writePairs(dir, 2);
    writeRGB(dir.file("pairs/rainy/lonely.png"), rampRGB(40, 40, 30));
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("pairs/rainy/lonely.png' has no clean partner"), std::string::npos) << e;
    oneLine(e);
  }
  {
    TempDir dir;
    writePairs(dir, 2);
    writeRGB(dir.file("pairs/clean/extra.png"), rampRGB(40, 40, 0));
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("pairs/clean/extra.png' has no rainy partner"), std::string::npos) << e;
  }
  {
    TempDir dir;
    writePairs(dir, 2);
    writeRGB(dir.file("pairs/rainy/p1.png"), rampRGB(48, 40, 30));  // p1's clean partner is 45 x 39
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("pairs/rainy/p1.png' is 48x40 but its partner"), std::string::npos) << e;
    EXPECT_NE(e.find("pairs/clean/p1.png' is 45x39"), std::string::npos) << e;
    oneLine(e);
  }
  {
    TempDir dir;
    writePairs(dir, 2);
    { std::ofstream(dir.file("pairs/clean/p0.png"), std::ios::trunc) << "not a PNG"; }
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("pairs/clean/p0.png"), std::string::npos) << e;
    EXPECT_NE(e.find("cannot be read"), std::string::npos) << e;
  }
  {
    TempDir dir;
    writePairs(dir, 1);  // 40 x 36: smaller than a 48 crop
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 48, 1); });
    EXPECT_NE(e.find("pairs/rainy/p0.png"), std::string::npos) << e;
    EXPECT_NE(e.find("smaller"), std::string::npos) << e;
  }
  {
    TempDir dir;
    writePairs(dir, 1);
    writeRGB(dir.file("pairs/rainy/p0.jpg"), rampRGB(40, 36, 30));
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("p0.jpg' and '"), std::string::npos) << e;
  }
  {
    TempDir dir;
    std::filesystem::create_directories(dir.file("pairs/rainy"));
    std::filesystem::create_directories(dir.file("pairs/clean"));
    const std::string e = errorOf([&] { ImagePairs(dir.file("pairs"), 32, 1); });
    EXPECT_NE(e.find("holds no pair"), std::string::npos) << e;
  }
}

TEST(ImagePairs, SyntheticTermTargetsThePairsCleanImage) {
  TrainingOptions o = training_test::tinyTrainingOptions(10);
  o.weights = LossWeights{0, 0, 0, 0, 0, 0, 0, 1};  // the synthetic term alone
  torch::manual_seed(1);
  const at::Tensor r = torch::rand({1, 3, 32, 32}) * 2 - 1, n = torch::rand({1, 3, 32, 32}) * 2 - 1;
  const at::Tensor s = torch::rand({1, 3, 32, 32}) * 2 - 1, target = s * 0.5;
  // What G_N makes of s before the step (every trainer below starts from the same seed's weights).
  Trainer probe(training_test::tinyConfig(), o, torch::kCPU);
  at::Tensor out;
  {
    torch::NoGradGuard no_grad;
    out = probe.model()->g_n->forward(s, probe.model()->att->forward(s));
  }
  const double to_pair = (out - target).pow(2).mean().item<double>(), to_clean = (out - n).pow(2).mean().item<double>();
  ASSERT_GT(std::abs(to_pair - to_clean), 0.05);
  {
    Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
    EXPECT_NEAR(trainer.generatorStep(r, n, 1e-4, s, target).synthetic, to_pair, 1e-6);
  }
  {
    Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
    EXPECT_NEAR(trainer.generatorStep(r, n, 1e-4, s).synthetic, to_clean, 1e-6);  // procedural: target n
  }
  Trainer trainer(training_test::tinyConfig(), o, torch::kCPU);
  EXPECT_THROW(trainer.generatorStep(r, n, 1e-4, s, torch::zeros({1, 3, 16, 16})), Error);
}

TEST(ImagePairs, SettingRoundTripsAndNamesThePairsInTheRecipe) {
  TrainingOptions o;
  o.weights.synthetic = 10;
  EXPECT_NE(o.recipeText(ModelConfig::lite(), false).find(", synthetic 10 (procedural pairs)"), std::string::npos);
  o.synthetic_pairs = "/data/gr pairs";
  const std::string line = o.recipeText(ModelConfig::lite(), false);
  EXPECT_NE(line.find(", synthetic 10 (pairs from '/data/gr pairs')"), std::string::npos) << line;
  TrainingOptions back;
  back.applyText(o.toText());
  EXPECT_EQ(back.synthetic_pairs, "/data/gr pairs");
  EXPECT_NO_THROW(o.validate(ModelConfig::lite()));
  o.weights.synthetic = 0;  // pairs for a term that is off: a mistake, not a silent no-op
  const std::string e = errorOf([&] { o.validate(ModelConfig::lite()); });
  EXPECT_NE(e.find("synthetic.pairs"), std::string::npos) << e;
  EXPECT_EQ(TrainingOptions().recipeText(ModelConfig::lite(), false).find("pairs"), std::string::npos);
}

TEST(ImagePairs, RunTrainsOnThePairsAndRecordsThem) {
  TempDir data;
  writePairs(data, 2);
  TrainingRunOptions run;
  run.rainy_files = training_test::writeDomain(data.file("rainy"), 3, 40, true, 1);
  run.clean_files = training_test::writeDomain(data.file("clean"), 2, 40, false, 2);
  run.out_dir = data.file("out");
  run.config = training_test::tinyConfig();
  run.training = training_test::tinyTrainingOptions(3);
  run.training.weights.synthetic = 1;
  run.training.synthetic_pairs = data.file("pairs");
  run.sample_every = run.plot_every = run.checkpoint_every = 0;
  std::vector<std::string> messages;
  run.message = [&](const std::string& m) { messages.push_back(m); };
  const TrainingRunResult result = runTraining(run);
  ASSERT_TRUE(result.completed);
  EXPECT_NE(recipeOf(result.model_path).find("(pairs from '" + data.file("pairs") + "')"),
            std::string::npos);
  EXPECT_NE(std::find(messages.begin(), messages.end(), "synthetic pairs: 2 from '" + data.file("pairs") + "'"),
            messages.end());

  // A broken pair folder stops the run before any iteration, naming the file.
  std::filesystem::remove(data.file("pairs/clean/p1.png"));
  run.out_dir = data.file("out2");
  const std::string e = errorOf([&] { runTraining(run); });
  EXPECT_NE(e.find("pairs/rainy/p1.png' has no clean partner"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(data.file("out2/checkpoint.derain")));
}

// derain-train --pairs as a user runs it.
TEST(ImagePairs, CommandLine) {
  if (training_test::trainBinary().empty()) GTEST_SKIP() << "DERAIN_TRAIN_BIN not set";
  TempDir dir;
  training_test::writeTinyRunData(dir);
  writePairs(dir, 2);
  auto args = training_test::tinyRunArgs(dir, "out", 2);
  args.insert(args.end(), {"--w-synthetic", "1", "--pairs", dir.file("pairs")});
  auto run = [&](const std::vector<std::string>& a) {
    const int code = training_test::waitExit(training_test::spawnTrainer(a, {}, dir.file("log.txt")));
    return std::make_pair(code, training_test::readBytes(dir.file("log.txt")));
  };
  auto [code, output] = run(args);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(recipeOf(dir.file("out/model.derain")).find("(pairs from '" + dir.file("pairs") + "')"),
            std::string::npos);
  EXPECT_NE(training_test::readBytes(dir.file("out/training.conf")).find("train.synthetic.pairs = " + dir.file("pairs")),
            std::string::npos);

  writeRGB(dir.file("pairs/rainy/p1.png"), rampRGB(60, 60, 30));  // its partner is 45 x 39
  args[5] = dir.file("out2");
  std::tie(code, output) = run(args);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("pairs/rainy/p1.png' is 60x60 but its partner"), std::string::npos) << output;

  std::tie(code, output) = run({"--help"});
  EXPECT_NE(output.find("--pairs DIR"), std::string::npos) << output;
  EXPECT_NE(output.find("train.synthetic.pairs"), std::string::npos) << output;
}
