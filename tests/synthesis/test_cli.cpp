// The dataset CLIs as a user runs them: derain-eval, derain-synth and derain-rainmake on tiny generated
// folders in a temp dir. The binaries' paths come from meson through DERAIN_*_BIN.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "derain/config.hpp"
#include "derain/engine.hpp"
#include "derain/rain.hpp"
#include "reference_metrics.hpp"
#include "test_images.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int exit_code = -1;
  std::string out, err;
  std::string lastLine() const {
    std::string s = out;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    const auto nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
  }
};

std::string readText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string binary(const char* env) {
  const char* path = std::getenv(env);
  return path ? path : "";
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("derain-cli-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  Result run(const char* env, const std::vector<std::string>& args) {
    const std::string exe = binary(env);
    if (exe.empty()) ADD_FAILURE() << env << " is not set (run through meson test)";
    std::string cmd = quote(exe);
    for (const auto& a : args) cmd += " " + quote(a);
    const fs::path out = root_ / "stdout.txt", err = root_ / "stderr.txt";
    cmd += " >" + quote(out.string()) + " 2>" + quote(err.string());
    Result r;
    const int status = std::system(cmd.c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = readText(out);
    r.err = readText(err);
    return r;
  }
  Result eval(const std::vector<std::string>& args) { return run("DERAIN_EVAL_BIN", args); }
  Result synth(const std::vector<std::string>& args) { return run("DERAIN_SYNTH_BIN", args); }
  Result rainmake(const std::vector<std::string>& args) { return run("DERAIN_RAINMAKE_BIN", args); }
  Result derainRun(const std::vector<std::string>& args) { return run("DERAIN_RUN_BIN", args); }

  fs::path dir(const std::string& name) {
    fs::create_directories(root_ / name);
    return root_ / name;
  }
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  // n pairs of generated scenes with procedural rain, saved as PNG in rainy/ and clean/.
  void makePairs(int n, int width, int height) {
    for (int i = 0; i < n; ++i) {
      const cv::Mat clean = testimg::scene(width, height, 100 + i);
      derain::RainParams p;
      p.seed = i;
      p.density = 0.05 + 0.03 * i;
      cv::Mat rainy;
      derain::addRain(clean, rainy, p);
      const std::string name = "img" + std::to_string(i) + ".png";
      ASSERT_TRUE(cv::imwrite((dir("rainy") / name).string(), rainy));
      ASSERT_TRUE(cv::imwrite((dir("clean") / name).string(), clean));
    }
  }

  fs::path root_;
};

std::vector<std::string> folderNames(const fs::path& d) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool samePixels(const cv::Mat& a, const cv::Mat& b) {
  return !a.empty() && a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// --- common ----------------------------------------------------------------------------------

TEST_F(Cli, HelpExitsZeroAndDocumentsOptions) {
  Result r = eval({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* o : {"--rainy", "--clean", "--model", "--out", "--csv", "--device", "--threads"})
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
  r = synth({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* o : {"--clean", "--out", "--seed", "--density", "--angle", "--length", "--width", "--intensity",
                        "--haze"})
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
  r = rainmake({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* o : {"--model", "--clean", "--out", "--input", "--output", "--noise", "--seed"})
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
}

TEST_F(Cli, BadArgumentsAreUsageErrors) {
  Result r = eval({"--rainy", path("a")});  // --clean missing
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--clean"), std::string::npos) << r.err;
  EXPECT_EQ(eval({"--bogus"}).exit_code, 2);
  makePairs(1, 32, 32);
  r = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--derained", path("d")});  // needs --model
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  EXPECT_EQ(synth({"--clean", path("c"), "--out", path("o"), "--density", "0.5:0.1"}).exit_code, 2);
  r = synth({"--clean", path("c"), "--out", path("o"), "--density", "lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--density"), std::string::npos) << r.err;
  r = synth({"--clean", path("c"), "--out", path("o"), "--angle", "95"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("angle"), std::string::npos) << r.err;
  EXPECT_EQ(synth({"--clean", path("c"), "--out", path("o"), "--seed", "-3"}).exit_code, 2);
  EXPECT_EQ(rainmake({"--model", path("m"), "--clean", path("c")}).exit_code, 2);  // --out missing
  EXPECT_EQ(rainmake({"--model", path("m"), "--clean", path("c"), "--out", path("o"), "--input", path("x.png"),
                      "--output", path("y.png")})
                .exit_code,
            2);
}

// --- derain-eval -----------------------------------------------------------------------------

TEST_F(Cli, EvalMissingFolderIsAClearError) {
  makePairs(1, 32, 32);
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("no-such-folder")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such-folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a folder"), std::string::npos) << r.err;
}

TEST_F(Cli, EvalUnmatchedNamesAreListed) {
  makePairs(2, 32, 32);
  fs::rename(root_ / "clean" / "img1.png", root_ / "clean" / "other.png");
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("img1.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("other.png"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("mean PSNR"), std::string::npos);
}

TEST_F(Cli, EvalSizeMismatchIsAClearError) {
  makePairs(2, 32, 32);
  ASSERT_TRUE(cv::imwrite((root_ / "clean" / "img1.png").string(), testimg::scene(33, 32, 1)));
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("size mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("img1.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("33x32"), std::string::npos) << r.err;
}

TEST_F(Cli, EvalUnreadableImageIsAClearError) {
  makePairs(2, 32, 32);
  std::ofstream(root_ / "rainy" / "img0.png") << "not a png at all";
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("img0.png"), std::string::npos) << r.err;
}

TEST_F(Cli, EvalScoresRainyAgainstCleanWithCsvAndSideBySide) {
  constexpr int kW = 48, kH = 40, kN = 3;
  makePairs(kN, kW, kH);
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--csv", path("scores.csv"), "--out",
                         path("sbs")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The expected figures from the plain-loop reference metrics on the files as saved.
  double psnr_sum = 0, ssim_sum = 0;
  std::vector<double> psnrs;
  for (int i = 0; i < kN; ++i) {
    const std::string name = "img" + std::to_string(i) + ".png";
    const auto y1 = reference::lumaOfBgr8(cv::imread((root_ / "rainy" / name).string()));
    const auto y2 = reference::lumaOfBgr8(cv::imread((root_ / "clean" / name).string()));
    psnrs.push_back(reference::psnr(y1, y2));
    psnr_sum += psnrs.back();
    ssim_sum += reference::ssim(y1, y2);
  }
  char expected[128];
  std::snprintf(expected, sizeof expected, "mean PSNR %.2f dB SSIM %.4f over %d images", psnr_sum / kN,
                ssim_sum / kN, kN);
  EXPECT_EQ(r.lastLine(), expected);
  EXPECT_LT(psnr_sum / kN, 40.0);  // really rainy, not trivially identical

  std::istringstream csv(readText(root_ / "scores.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "name,psnr,ssim");
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(std::getline(csv, line));
    const std::string name = "img" + std::to_string(i) + ".png";
    ASSERT_EQ(line.rfind(name + ",", 0), 0u) << line;
    EXPECT_NEAR(std::stod(line.substr(name.size() + 1)), psnrs[i], 1e-4) << line;
  }
  EXPECT_FALSE(std::getline(csv, line));

  ASSERT_EQ(folderNames(root_ / "sbs"), (std::vector<std::string>{"img0.png", "img1.png", "img2.png"}));
  const cv::Mat side = cv::imread((root_ / "sbs" / "img1.png").string());
  EXPECT_EQ(side.size(), cv::Size(2 * kW, kH));
  EXPECT_TRUE(samePixels(side(cv::Rect(kW, 0, kW, kH)), cv::imread((root_ / "clean" / "img1.png").string())));
}

TEST_F(Cli, EvalOfIdenticalFoldersIsInfiniteAndOne) {
  makePairs(2, 32, 32);
  const Result r = eval({"--rainy", path("clean"), "--clean", path("clean")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.lastLine(), "mean PSNR inf dB SSIM 1.0000 over 2 images");
}

TEST_F(Cli, EvalWithModelDerainsFirst) {
  makePairs(2, 32, 24);
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--model", model, "--threads", "1",
                         "--derained", path("derained"), "--out", path("sbs")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Expected: the same engine deraining in-process, scored by the reference metrics.
  derain::EngineOptions options;
  options.threads = 1;
  derain::Engine engine(model, options);
  double psnr_sum = 0, ssim_sum = 0;
  for (const char* name : {"img0.png", "img1.png"}) {
    cv::Mat derained;
    engine.derain(cv::imread((root_ / "rainy" / name).string()), derained);
    EXPECT_TRUE(samePixels(derained, cv::imread((root_ / "derained" / name).string()))) << name;
    const auto y1 = reference::lumaOfBgr8(derained), y2 = reference::lumaOfBgr8(cv::imread((root_ / "clean" / name).string()));
    psnr_sum += reference::psnr(y1, y2);
    ssim_sum += reference::ssim(y1, y2);
  }
  char expected[128];
  std::snprintf(expected, sizeof expected, "mean PSNR %.2f dB SSIM %.4f over 2 images", psnr_sum / 2, ssim_sum / 2);
  EXPECT_EQ(r.lastLine(), expected);
  EXPECT_EQ(cv::imread((root_ / "sbs" / "img0.png").string()).cols, 3 * 32);  // rainy | derained | clean

  const Result bad = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--model", path("missing.derain")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("missing.derain"), std::string::npos) << bad.err;
}

// --- derain-run (the main job) -----------------------------------------------------------------

TEST_F(Cli, RunDemoWritesTheScenesAndReportsTheirScores) {
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const Result r = derainRun({"--demo", path("demo"), "--model", model, "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat clean = cv::imread(path("demo/demo-clean.png")), rainy = cv::imread(path("demo/demo-rainy.png"));
  const cv::Mat derained = cv::imread(path("demo/demo-derained.png"));
  const cv::Mat pair = cv::imread(path("demo/demo-before-after.png"));
  ASSERT_FALSE(clean.empty() || rainy.empty() || derained.empty() || pair.empty());
  EXPECT_EQ(derained.size(), clean.size());
  EXPECT_EQ(pair.cols, 2 * clean.cols);
  EXPECT_GT(cv::norm(rainy, clean, cv::NORM_L1), 0.0);  // it really rained on the scene
  // The printed scores are those of the written files.
  char expected[128];
  std::snprintf(expected, sizeof expected, "demo: rainy input  PSNR %.2f dB",
                reference::psnr(reference::lumaOfBgr8(rainy), reference::lumaOfBgr8(clean)));
  EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  std::snprintf(expected, sizeof expected, "demo: derained     PSNR %.2f dB",
                reference::psnr(reference::lumaOfBgr8(derained), reference::lumaOfBgr8(clean)));
  EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
}

// Without --model or DERAIN_MODEL: the shipped default model (installed, else the source tree's),
// and only when there is none, an untrained model that says so.
TEST_F(Cli, RunWithoutAModelUsesTheDefaultOrSaysItIsUntrained) {
  ::setenv("DERAIN_MODEL", "", 1);  // empty: fall back to the default model, if any
  const Result r = derainRun({"--demo", path("demo"), "--threads", "1"});
  const std::string default_model = derain::defaultModelPath();
  ::unsetenv("DERAIN_MODEL");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (default_model.empty()) {
    EXPECT_NE(r.err.find("UNTRAINED"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("untrained model"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.err.find("derain-run: model " + default_model + " ("), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("UNTRAINED"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("untrained model"), std::string::npos) << r.out;
  }
}

TEST_F(Cli, RunDerainsAnImageLikeTheEngine) {
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 4).save(model);
  const cv::Mat rainy = testimg::scene(45, 31, 5);
  ASSERT_TRUE(cv::imwrite(path("in.png"), rainy));
  const Result r = derainRun({"--input", path("in.png"), "--output", path("out.png"), "--model", model,
                              "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  derain::EngineOptions options;
  options.threads = 1;
  derain::Engine engine(model, options);
  cv::Mat expected;
  engine.derain(rainy, expected);
  EXPECT_TRUE(samePixels(expected, cv::imread(path("out.png"))));
}

TEST_F(Cli, RunBadInputsAreClearErrors) {
  EXPECT_EQ(derainRun({"--demo", path("d"), "--input", path("x.png"), "--output", path("y.png")}).exit_code, 2);
  EXPECT_EQ(derainRun({"--input", path("x.png")}).exit_code, 2);
  EXPECT_EQ(derainRun({"--demo", path("d"), "--threads", "-1"}).exit_code, 2);
  const Result missing_model = derainRun({"--demo", path("d"), "--model", path("none.derain")});
  EXPECT_EQ(missing_model.exit_code, 1);
  EXPECT_NE(missing_model.err.find("none.derain"), std::string::npos) << missing_model.err;
  std::ofstream(path("broken.derain")) << "not a model";
  const Result corrupt = derainRun({"--demo", path("d"), "--model", path("broken.derain")});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find("not a libderain model file"), std::string::npos) << corrupt.err;
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const Result unreadable = derainRun({"--input", path("missing.png"), "--output", path("o.png"), "--model", model});
  EXPECT_EQ(unreadable.exit_code, 1);
  EXPECT_NE(unreadable.err.find("cannot read image"), std::string::npos) << unreadable.err;
}

// --- derain-synth ----------------------------------------------------------------------------

class SynthCli : public Cli {
 protected:
  void makeCleanFolder() {
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(cv::imwrite((dir("in") / ("s" + std::to_string(i) + ".png")).string(), testimg::scene(40, 30, i)));
    ASSERT_TRUE(cv::imwrite((dir("in") / "photo.jpg").string(), testimg::scene(36, 28, 9)));
    std::ofstream(root_ / "in" / "broken.png") << "garbage, not an image";
  }
};

TEST_F(SynthCli, MakesAPairedSetAndSkipsUnreadableInputs) {
  makeCleanFolder();
  const Result r = synth({"--clean", path("in"), "--out", path("set"), "--seed", "5", "--density", "0.08"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.lastLine(), "wrote 4 pairs to " + path("set") + " (1 unreadable inputs skipped)");
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;
  const std::vector<std::string> expected{"photo.png", "s0.png", "s1.png", "s2.png"};
  EXPECT_EQ(folderNames(root_ / "set" / "rainy"), expected);
  EXPECT_EQ(folderNames(root_ / "set" / "clean"), expected);
  // The clean side holds exactly the decoded input pixels; the rainy side is rained on.
  EXPECT_TRUE(samePixels(cv::imread((root_ / "set" / "clean" / "photo.png").string()),
                         cv::imread((root_ / "in" / "photo.jpg").string())));
  for (const auto& name : expected) {
    const cv::Mat clean = cv::imread((root_ / "set" / "clean" / name).string());
    const cv::Mat rainy = cv::imread((root_ / "set" / "rainy" / name).string());
    ASSERT_EQ(clean.size(), rainy.size()) << name;
    EXPECT_FALSE(samePixels(clean, rainy)) << name;
    EXPECT_GT(cv::sum(rainy)[0], cv::sum(clean)[0]) << name;  // streaks only add light
  }
  const std::string params = readText(root_ / "set" / "params.csv");
  EXPECT_EQ(std::count(params.begin(), params.end(), '\n'), 5);
  EXPECT_EQ(params.rfind("name,density,angle,angle_jitter,length,width,intensity,haze,seed\n", 0), 0u);
  EXPECT_NE(params.find("s1.png,0.08,"), std::string::npos) << params;
}

TEST_F(SynthCli, SameSeedSameBytesDifferentSeedDifferentRain) {
  makeCleanFolder();
  ASSERT_EQ(synth({"--clean", path("in"), "--out", path("a"), "--seed", "11"}).exit_code, 0);
  ASSERT_EQ(synth({"--clean", path("in"), "--out", path("b"), "--seed", "11"}).exit_code, 0);
  ASSERT_EQ(synth({"--clean", path("in"), "--out", path("c"), "--seed", "12"}).exit_code, 0);
  for (const char* name : {"s0.png", "photo.png"}) {
    EXPECT_EQ(readText(root_ / "a" / "rainy" / name), readText(root_ / "b" / "rainy" / name)) << name;
    EXPECT_NE(readText(root_ / "a" / "rainy" / name), readText(root_ / "c" / "rainy" / name)) << name;
  }
  EXPECT_EQ(readText(root_ / "a" / "params.csv"), readText(root_ / "b" / "params.csv"));
}

TEST_F(SynthCli, FixedAndRangedParameters) {
  makeCleanFolder();
  Result r = synth({"--clean", path("in"), "--out", path("zero"), "--density", "0", "--haze", "0:0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"s0.png", "s2.png"})
    EXPECT_TRUE(samePixels(cv::imread((root_ / "zero" / "rainy" / name).string()),
                           cv::imread((root_ / "zero" / "clean" / name).string())))
        << name;
  r = synth({"--clean", path("in"), "--out", path("ranged"), "--length", "10:30", "--width", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream csv(readText(root_ / "ranged" / "params.csv"));
  std::string line;
  std::getline(csv, line);
  std::vector<double> lengths;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 9u) << line;
    lengths.push_back(std::stod(cells[4]));
    EXPECT_EQ(std::stod(cells[5]), 2.0) << line;
    EXPECT_GE(lengths.back(), 10.0);
    EXPECT_LE(lengths.back(), 30.0);
  }
  ASSERT_EQ(lengths.size(), 4u);
  EXPECT_NE(lengths[0], lengths[1]);
}

TEST_F(SynthCli, MissingOrEmptyInputIsAClearError) {
  Result r = synth({"--clean", path("nowhere"), "--out", path("set")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  dir("empty");
  r = synth({"--clean", path("empty"), "--out", path("set")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no images"), std::string::npos) << r.err;
  std::ofstream(dir("junk") / "bad.png") << "junk";
  r = synth({"--clean", path("junk"), "--out", path("set")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no input image could be read"), std::string::npos) << r.err;
}

TEST_F(SynthCli, RefusesToOverwriteItsInputOrCollideNames) {
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(cv::imwrite((dir("data/clean") / ("k" + std::to_string(i) + ".png")).string(), testimg::scene(20, 20, i)));
  const std::string before = readText(root_ / "data" / "clean" / "k0.png");
  Result r = synth({"--clean", path("data/clean"), "--out", path("data")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("must not be the input folder"), std::string::npos) << r.err;
  EXPECT_EQ(readText(root_ / "data" / "clean" / "k0.png"), before);
  EXPECT_FALSE(fs::exists(root_ / "data" / "rainy" / "k0.png"));

  ASSERT_TRUE(cv::imwrite((dir("twins") / "a.png").string(), testimg::scene(20, 20, 1)));
  ASSERT_TRUE(cv::imwrite((dir("twins") / "a.jpg").string(), testimg::scene(20, 20, 2)));
  r = synth({"--clean", path("twins"), "--out", path("set")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a.jpg"), std::string::npos) << r.err;
}

// --- derain-rainmake -------------------------------------------------------------------------

class RainmakeCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    model_ = path("lite.derain");
    derain::Engine::untrained(derain::ModelConfig::lite(), 7).save(model_);
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(cv::imwrite((dir("in") / ("c" + std::to_string(i) + ".png")).string(), testimg::scene(40, 32, i)));
  }
  std::string model_;
};

TEST_F(RainmakeCli, DatasetModeWritesPairsDeterministically) {
  const std::vector<std::string> common{"--model", model_, "--clean", path("in"), "--threads", "1", "--noise", "0.5"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::ofstream(root_ / "in" / "broken.jpg") << "not a jpeg";
  Result r = rainmake(with({"--out", path("a"), "--seed", "1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.lastLine(), "wrote 2 pairs to " + path("a") + " (1 unreadable inputs skipped)");
  EXPECT_NE(r.err.find("broken.jpg"), std::string::npos) << r.err;
  EXPECT_EQ(folderNames(root_ / "a" / "rainy"), (std::vector<std::string>{"c0.png", "c1.png"}));
  EXPECT_EQ(folderNames(root_ / "a" / "clean"), (std::vector<std::string>{"c0.png", "c1.png"}));
  const cv::Mat clean = cv::imread(path("in/c0.png")), rainy = cv::imread(path("a/rainy/c0.png"));
  EXPECT_TRUE(samePixels(cv::imread(path("a/clean/c0.png")), clean));
  EXPECT_EQ(rainy.size(), clean.size());

  // The output is G_R with noise of seed + index on the mask, the index counting every listed input
  // in name order (broken.jpg is 0, c0.png 1, c1.png 2): reproduce c1.png in-process.
  derain::EngineOptions options;
  options.threads = 1;
  derain::Engine engine(model_, options);
  cv::Mat expected;
  engine.rainmake(cv::imread(path("in/c1.png")), expected, derain::ColorOrder::BGR, derain::RainmakeOptions{0.5f, 3});
  EXPECT_TRUE(samePixels(cv::imread(path("a/rainy/c1.png")), expected));

  ASSERT_EQ(rainmake(with({"--out", path("b"), "--seed", "1"})).exit_code, 0);
  ASSERT_EQ(rainmake(with({"--out", path("c"), "--seed", "9"})).exit_code, 0);
  EXPECT_TRUE(samePixels(cv::imread(path("a/rainy/c0.png")), cv::imread(path("b/rainy/c0.png"))));
  EXPECT_FALSE(samePixels(cv::imread(path("a/rainy/c0.png")), cv::imread(path("c/rainy/c0.png"))));
}

TEST_F(RainmakeCli, SingleImageAndVideoModes) {
  Result r = rainmake({"--model", model_, "--input", path("in/c0.png"), "--output", path("one.png"), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cv::imread(path("one.png")).size(), cv::Size(40, 32));

  {
    cv::VideoWriter writer(path("clip.avi"), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(48, 32));
    if (!writer.isOpened()) GTEST_SKIP() << "this OpenCV cannot write MJPG .avi";
    for (int i = 0; i < 3; ++i) writer.write(testimg::scene(48, 32, i));
  }
  r = rainmake({"--model", model_, "--input", path("clip.avi"), "--output", path("rain.avi"), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  cv::VideoCapture cap(path("rain.avi"));
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  for (cv::Mat f; cap.read(f); ++frames) EXPECT_EQ(f.size(), cv::Size(48, 32));
  EXPECT_EQ(frames, 3);
}

TEST_F(RainmakeCli, BadInputsAreClearErrors) {
  Result r = rainmake({"--model", path("missing.derain"), "--input", path("in/c0.png"), "--output", path("x.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.derain"), std::string::npos) << r.err;
  r = rainmake({"--model", model_, "--input", path("nothing.png"), "--output", path("x.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing.png"), std::string::npos) << r.err;
  r = rainmake({"--model", model_, "--clean", path("nowhere"), "--out", path("o")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  r = rainmake({"--model", model_, "--input", path("in/c0.png"), "--output", path("x.mp4")});
  EXPECT_EQ(r.exit_code, 2);  // image in, video out
  std::ofstream(root_ / "junk.mp4") << "not a video";
  r = rainmake({"--model", model_, "--input", path("junk.mp4"), "--output", path("out.mp4")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.mp4"), std::string::npos) << r.err;
  std::ofstream(dir("bad") / "bad.png") << "junk";
  r = rainmake({"--model", model_, "--clean", path("bad"), "--out", path("o")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no input image could be read"), std::string::npos) << r.err;
}

// --- the literature's reference figures, when the shared data is around ----------------------

TEST_F(Cli, ReproducesPublishedRainyInputFigures) {
  const char* shared = std::getenv("DERAIN_SHARED_DATA");
  if (!shared || !fs::is_directory(fs::path(shared) / "rain12" / "rainy"))
    GTEST_SKIP() << "shared data not available";
  const fs::path data = shared;
  Result r = eval({"--rainy", (data / "rain12" / "rainy").string(), "--clean", (data / "rain12" / "clean").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.lastLine(), "mean PSNR 30.14 dB SSIM 0.8554 over 12 images");
  if (fs::is_directory(data / "synthetic-val" / "rainy")) {
    r = eval({"--rainy", (data / "synthetic-val" / "rainy").string(), "--clean",
              (data / "synthetic-val" / "clean").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.lastLine(), "mean PSNR 22.29 dB SSIM 0.8726 over 20 images");
  }
}

}  // namespace
