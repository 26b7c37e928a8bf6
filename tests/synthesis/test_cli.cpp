// The dataset CLIs as a user runs them: derain-eval, derain-synth and derain-rainmake on tiny generated
// folders in a temp dir. The binaries' paths come from meson through DERAIN_*_BIN.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

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
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "derain/colour_change.hpp"
#include "derain/config.hpp"
#include "derain/engine.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "derain/temporal_metrics.hpp"
#include "derain/video.hpp"
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

  // `shell_prefix` runs first in the same shell (e.g. "ulimit -v 1000000; ").
  Result run(const char* env, const std::vector<std::string>& args, const std::string& shell_prefix = "") {
    const std::string exe = binary(env);
    if (exe.empty()) ADD_FAILURE() << env << " is not set (run through meson test)";
    std::string cmd = shell_prefix + quote(exe);
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

TEST_F(Cli, EvalNoReferenceReportsWhatTheModelChanged) {
  makePairs(2, 32, 24);
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const Result r = eval({"--no-reference", "--rainy", path("rainy"), "--model", model, "--threads", "1",
                         "--derained", path("derained")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Expected: the same engine in-process, the per-image figures averaged.
  derain::EngineOptions options;
  options.threads = 1;
  derain::Engine engine(model, options);
  derain::ColourChange mean;
  for (const char* name : {"img0.png", "img1.png"}) {
    const cv::Mat rainy = cv::imread((root_ / "rainy" / name).string());
    cv::Mat derained;
    engine.derain(rainy, derained);
    EXPECT_TRUE(samePixels(derained, cv::imread((root_ / "derained" / name).string()))) << name;
    const derain::ColourChange c = derain::colourChange(rainy, derained);
    mean.shift_r += c.shift_r / 2, mean.shift_g += c.shift_g / 2, mean.shift_b += c.shift_b / 2;
    mean.changed_share += c.changed_share / 2;
  }
  char expected[200];
  std::snprintf(expected, sizeof expected,
                "mean shift R %+.2f G %+.2f B %+.2f levels, spread %.2f levels, changed by > 8 levels %.2f %% of "
                "pixels over 2 images",
                mean.shift_r, mean.shift_g, mean.shift_b, mean.spread(), 100.0 * mean.changed_share);
  EXPECT_EQ(r.lastLine(), expected);

  // Misuse: no model, a ground truth, an output inside the input; an unreadable image is named.
  Result bad = eval({"--no-reference", "--rainy", path("rainy")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--model"), std::string::npos) << bad.err;
  bad = eval({"--no-reference", "--rainy", path("rainy"), "--clean", path("clean"), "--model", model});
  EXPECT_EQ(bad.exit_code, 2);
  bad = eval({"--no-reference", "--rainy", path("rainy"), "--model", model, "--derained", path("rainy")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.out.find("mean shift"), std::string::npos);
  bad = eval({"--rainy", path("rainy")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--clean"), std::string::npos) << bad.err;
  fs::create_directories(root_ / "empty");
  bad = eval({"--no-reference", "--rainy", path("empty"), "--model", model});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no images"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out.find("mean shift"), std::string::npos) << bad.out;
  std::ofstream(root_ / "rainy" / "img0.png") << "not a png at all";
  bad = eval({"--no-reference", "--rainy", path("rainy"), "--model", model});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("img0.png"), std::string::npos) << bad.err;
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
    // The shipped model records its recipe (models/README.md): a synthetic-pair-dominated objective.
    EXPECT_NE(r.err.find("derain-run: recipe: semi-supervised"), std::string::npos) << r.err;
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

// --- hardening: one-line errors, nothing lost, checks before work --------------------------------

// Names in `dir` that look like a pending temporary output (".NAME.part-...").
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".part-") != std::string::npos) names.push_back(e.path().string());
  return names;
}

// A 40-frame MJPG .avi of `size`; false if this OpenCV cannot write one.
bool writeClip(const std::string& path, cv::Size size, int frames) {
  cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, size);
  if (!writer.isOpened()) return false;
  for (int i = 0; i < frames; ++i) writer.write(testimg::scene(size.width, size.height, i));
  return true;
}

class RunCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    model_ = path("lite.derain");
    derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model_);
  }
  Result runWith(std::vector<std::string> args, const std::string& prefix = "") {
    args.insert(args.end(), {"--model", model_, "--threads", "1"});
    return run("DERAIN_RUN_BIN", args, prefix);
  }
  std::string model_;
};

TEST_F(RunCli, OutOfMemoryIsOneLineAndNonZero) {
  // A 4000x3000 frame in one tile (streaming tiles would fit it) needs far more than the 1 GB of
  // address space this run is allowed.
  ASSERT_TRUE(cv::imwrite(path("big.png"), cv::Mat(3000, 4000, CV_8UC3, cv::Scalar(90, 120, 150))));
  const Result r = runWith({"--input", path("big.png"), "--output", path("out.png"), "--tile-size",
                            std::to_string(derain::kMaxTileSize)},
                           "ulimit -v 1000000; exec timeout 120 ");
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.exit_code, -1) << "killed by a signal: " << r.err;
  EXPECT_NE(r.exit_code, 124) << "timed out: " << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("frame #"), std::string::npos) << r.err;  // no LibTorch backtrace
  size_t error_lines = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("error") == std::string::npos) continue;
    ++error_lines;
    EXPECT_EQ(line.rfind("derain-run: error: ", 0), 0u) << line;
  }
  EXPECT_EQ(error_lines, 1u) << r.err;
  EXPECT_FALSE(fs::exists(path("out.png")));
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(RunCli, OutputThatIsTheInputImageIsRefused) {
  ASSERT_TRUE(cv::imwrite(path("in.png"), testimg::scene(40, 30, 1)));
  const std::string before = readText(path("in.png"));
  const Result r = runWith({"--input", path("in.png"), "--output", root_.string() + "/./in.png"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("it is the input"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("derain-run: model"), std::string::npos) << "refused only after loading the model";
  EXPECT_EQ(readText(path("in.png")), before);
}

TEST_F(RunCli, OutputThatIsTheInputVideoIsRefused) {
  if (!writeClip(path("v.avi"), {48, 32}, 6)) GTEST_SKIP() << "this OpenCV cannot write MJPG .avi";
  fs::create_symlink(path("v.avi"), path("link.avi"));
  const std::string before = readText(path("v.avi"));
  const Result r = runWith({"--input", path("v.avi"), "--output", path("link.avi")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("it is the input"), std::string::npos) << r.err;
  EXPECT_EQ(readText(path("v.avi")), before);
}

TEST_F(RunCli, VideoToAnImageNameIsRefusedBeforeWork) {
  if (!writeClip(path("v.avi"), {48, 32}, 6)) GTEST_SKIP() << "this OpenCV cannot write MJPG .avi";
  Result r = runWith({"--input", path("v.avi"), "--output", path("out.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a video"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("derain-run: model"), std::string::npos) << "refused only after loading the model";
  EXPECT_FALSE(fs::exists(path("out.png")));
  r = runWith({"--input", path("v.avi"), "--output", path("out.xyz")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(".avi, .mp4"), std::string::npos) << r.err;  // lists the supported ones
  r = runWith({"--input", path("v.avi"), "--output", path("no-such-folder/out.avi")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("derain-run: model"), std::string::npos) << r.err;
}

TEST_F(RunCli, UnreadableInputSaysWhy) {
  Result r = runWith({"--input", path("missing.png"), "--output", path("o.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read image '" + path("missing.png") + "': no such file"), std::string::npos) << r.err;
  dir("folder.png");
  r = runWith({"--input", path("folder.png"), "--output", path("o.png")});
  EXPECT_NE(r.err.find("is a folder"), std::string::npos) << r.err;
  std::ofstream(path("junk.png")) << "not a png";
  r = runWith({"--input", path("junk.png"), "--output", path("o.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
  if (geteuid() != 0) {  // root reads anything
    ASSERT_TRUE(cv::imwrite(path("locked.png"), testimg::scene(20, 20, 1)));
    fs::permissions(path("locked.png"), fs::perms::none);
    r = runWith({"--input", path("locked.png"), "--output", path("o.png")});
    EXPECT_NE(r.err.find("no permission"), std::string::npos) << r.err;
  }
}

TEST_F(RunCli, TruncatedVideoWarnsWithTheCountAndStrictFails) {
  if (!writeClip(path("v.avi"), {64, 48}, 40)) GTEST_SKIP() << "this OpenCV cannot write MJPG .avi";
  fs::resize_file(path("v.avi"), fs::file_size(path("v.avi")) / 2);
  Result r = runWith({"--input", path("v.avi"), "--output", path("out.avi")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" of 40 frames of '" + path("v.avi") + "' could not be decoded"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(path("out.avi")));
  r = runWith({"--input", path("v.avi"), "--output", path("strict.avi"), "--strict"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--strict"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("strict.avi")));
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(RunCli, TruncatedJpegWarnsAndStrictFails) {
  ASSERT_TRUE(cv::imwrite(path("in.jpg"), testimg::scene(64, 48, 2)));
  fs::resize_file(path("in.jpg"), fs::file_size(path("in.jpg")) / 2);
  Result r = runWith({"--input", path("in.jpg"), "--output", path("out.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: '" + path("in.jpg") + "' is truncated"), std::string::npos) << r.err;
  r = runWith({"--input", path("in.jpg"), "--output", path("strict.png"), "--strict"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(fs::exists(path("strict.png")));
}

TEST_F(RunCli, InterruptedVideoLeavesNoPartialFileAndThePreviousOutput) {
  if (!writeClip(path("v.avi"), {320, 240}, 200)) GTEST_SKIP() << "this OpenCV cannot write MJPG .avi";
  std::ofstream(path("out.avi")) << "the previous output";
  const std::string exe = binary("DERAIN_RUN_BIN");
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(path("log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(exe.c_str(), exe.c_str(), "--input", path("v.avi").c_str(), "--output", path("out.avi").c_str(), "--model",
          model_.c_str(), "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once the temporary output holds a few derained frames.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool writing = false;
  while (!writing && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (const auto& name : leftovers(root_)) writing |= fs::file_size(name) > 20000;
  }
  ASSERT_TRUE(writing) << readText(path("log.txt"));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string log = readText(path("log.txt"));
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  EXPECT_NE(log.find("interrupted"), std::string::npos) << log;
  EXPECT_EQ(readText(path("out.avi")), "the previous output");
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(Cli, SynthVideoMakesDeterministicPairedClipsThatEvalScoresWithTheTemporalError) {
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(cv::imwrite((dir("stills") / ("s" + std::to_string(i) + ".png")).string(), testimg::scene(120, 90, i)));
  const std::vector<std::string> common{"--clean", path("stills"), "--video", "--frames", "5", "--size", "64x48",
                                        "--motion", "pan,static"};
  auto make = [&](const std::string& out, const std::string& seed) {
    auto args = common;
    args.insert(args.end(), {"--out", path(out), "--seed", seed});
    return synth(args).exit_code;
  };
  ASSERT_EQ(make("a", "4"), 0);
  ASSERT_EQ(make("b", "4"), 0);
  ASSERT_EQ(make("c", "5"), 0);
  EXPECT_EQ(folderNames(root_ / "a" / "rainy"), (std::vector<std::string>{"s0-pan", "s1-static"}));
  std::vector<cv::Mat> rainy, clean;
  for (int f = 0; f < 5; ++f) {
    char name[32];
    std::snprintf(name, sizeof name, "frame-%04d.png", f);
    const cv::Mat a = cv::imread((root_ / "a" / "rainy" / "s0-pan" / name).string());
    EXPECT_TRUE(samePixels(a, cv::imread((root_ / "b" / "rainy" / "s0-pan" / name).string()))) << "same seed " << f;
    EXPECT_FALSE(samePixels(a, cv::imread((root_ / "c" / "rainy" / "s0-pan" / name).string()))) << "other seed " << f;
    rainy.push_back(a);
    clean.push_back(cv::imread((root_ / "a" / "clean" / "s0-pan" / name).string()));
  }
  EXPECT_FALSE(samePixels(clean[0], clean[4])) << "the camera of a pan clip does not move";
  EXPECT_FALSE(samePixels(rainy[0], clean[0])) << "no rain";

  // Scoring the rainy clips themselves: the figures are the library's, averaged as documented.
  std::vector<cv::Mat> static_rainy, static_clean;
  for (int f = 0; f < 5; ++f) {
    char name[32];
    std::snprintf(name, sizeof name, "frame-%04d.png", f);
    static_rainy.push_back(cv::imread((root_ / "a" / "rainy" / "s1-static" / name).string()));
    static_clean.push_back(cv::imread((root_ / "a" / "clean" / "s1-static" / name).string()));
  }
  double psnr = 0, ssim = 0;
  for (int f = 0; f < 5; ++f) {
    psnr += derain::qualityY(rainy[f], clean[f]).psnr + derain::qualityY(static_rainy[f], static_clean[f]).psnr;
    ssim += derain::qualityY(rainy[f], clean[f]).ssim + derain::qualityY(static_rainy[f], static_clean[f]).ssim;
  }
  const double temporal =
      (derain::temporalError(rainy, clean) + derain::temporalError(static_rainy, static_clean)) / 2;
  const Result r = eval({"--rainy", path("a/rainy"), "--clean", path("a/clean"), "--sequences"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  char expected[200];
  std::snprintf(expected, sizeof expected,
                "mean PSNR %.2f dB SSIM %.4f over 10 frames of 2 clips, temporal error %.3f levels\n", psnr / 10,
                ssim / 10, temporal);
  EXPECT_EQ(r.out, expected);
  EXPECT_GT(temporal, 0.5);  // moving rain against a still background
}

// derain-eval --sequences takes video files too: clips in a folder paired by stem with the ground
// truth's videos, or two video files. The figures are the library's on the decoded frames.
TEST_F(Cli, EvalScoresVideoFileClips) {
  constexpr int kFrames = 6;
  std::vector<cv::Mat> rainy, clean;
  for (int f = 0; f < kFrames; ++f) {
    cv::Mat background = testimg::scene(96, 64, 2), wet;
    const cv::Mat pan = (cv::Mat_<double>(2, 3) << 1, 0, f, 0, 1, 0);
    cv::warpAffine(background, background, pan, background.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
    derain::RainParams rain;
    rain.seed = 10 + f;
    derain::addRain(background, wet, rain);
    clean.push_back(background);
    rainy.push_back(wet);
  }
  auto writeVideo = [&](const std::string& file, const std::vector<cv::Mat>& frames) {
    cv::VideoWriter writer(file, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, frames[0].size());
    ASSERT_TRUE(writer.isOpened()) << file;
    for (const auto& frame : frames) writer << frame;
  };
  dir("v/rainy");
  dir("v/clean");
  writeVideo(path("v/rainy/street.avi"), rainy);
  writeVideo(path("v/clean/street.avi"), clean);
  auto decoded = [&](const std::string& file) {
    std::vector<cv::Mat> frames;
    cv::VideoCapture capture(file);
    cv::Mat frame;
    while (capture.read(frame)) frames.push_back(frame.clone());
    return frames;
  };
  const std::vector<cv::Mat> rainy_read = decoded(path("v/rainy/street.avi")), clean_read = decoded(path("v/clean/street.avi"));
  ASSERT_EQ(static_cast<int>(rainy_read.size()), kFrames);
  double psnr = 0, ssim = 0;
  for (int f = 0; f < kFrames; ++f) {
    psnr += derain::qualityY(rainy_read[f], clean_read[f]).psnr;
    ssim += derain::qualityY(rainy_read[f], clean_read[f]).ssim;
  }
  char expected[200];
  std::snprintf(expected, sizeof expected,
                "mean PSNR %.2f dB SSIM %.4f over %d frames of 1 clips, temporal error %.3f levels\n", psnr / kFrames,
                ssim / kFrames, kFrames, derain::temporalError(rainy_read, clean_read));
  const Result folders = eval({"--rainy", path("v/rainy"), "--clean", path("v/clean"), "--sequences"});
  ASSERT_EQ(folders.exit_code, 0) << folders.err;
  EXPECT_EQ(folders.out, expected);
  const Result files =
      eval({"--rainy", path("v/rainy/street.avi"), "--clean", path("v/clean/street.avi"), "--sequences"});
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_EQ(files.out, expected);

  // A clip without ground truth, and a ground truth of another length: one-line errors naming them.
  writeVideo(path("v/rainy/alley.avi"), rainy);
  const Result missing = eval({"--rainy", path("v/rainy"), "--clean", path("v/clean"), "--sequences"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no ground truth for clip '" + path("v/rainy/alley.avi") + "'"), std::string::npos)
      << missing.err;
  writeVideo(path("v/clean/alley.avi"), std::vector<cv::Mat>(clean.begin(), clean.begin() + 4));
  const Result shorter = eval({"--rainy", path("v/rainy"), "--clean", path("v/clean"), "--sequences"});
  EXPECT_EQ(shorter.exit_code, 1);
  EXPECT_NE(shorter.err.find("has 6 frames but its ground truth '" + path("v/clean/alley.avi") + "' has 4"),
            std::string::npos)
      << shorter.err;
}

TEST_F(RunCli, GreyAlphaAnd16BitImagesKeepTheirLayout) {
  derain::EngineOptions one_thread;
  one_thread.threads = 1;
  derain::Engine engine(model_, one_thread);
  // 16-bit BGRA PNG: 16-bit BGRA out, alpha bit-exact, colour = the engine's.
  cv::Mat deep;
  testimg::scene(40, 30, 3).convertTo(deep, CV_16UC3, 257.0);
  cv::Mat alpha(30, 40, CV_16UC1);
  cv::randu(alpha, 0, 65536);
  cv::Mat bgra;
  cv::merge(std::vector<cv::Mat>{deep, alpha}, bgra);
  ASSERT_TRUE(cv::imwrite(path("deep.png"), bgra));
  ASSERT_EQ(runWith({"--input", path("deep.png"), "--output", path("deep-out.png")}).exit_code, 0);
  const cv::Mat out = cv::imread(path("deep-out.png"), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(out.type(), CV_16UC4);
  cv::Mat expected;
  engine.derain(bgra, expected);
  EXPECT_EQ(cv::norm(out, expected, cv::NORM_INF), 0.0);
  cv::Mat out_alpha;
  cv::extractChannel(out, out_alpha, 3);
  EXPECT_EQ(cv::norm(out_alpha, alpha, cv::NORM_INF), 0.0);

  // Grey PNG: grey out (no colour cast possible), equal to the engine's grey result.
  cv::Mat grey;
  cv::cvtColor(testimg::scene(40, 30, 4), grey, cv::COLOR_BGR2GRAY);
  ASSERT_TRUE(cv::imwrite(path("grey.png"), grey));
  ASSERT_EQ(runWith({"--input", path("grey.png"), "--output", path("grey-out.png")}).exit_code, 0);
  const cv::Mat grey_out = cv::imread(path("grey-out.png"), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(grey_out.type(), CV_8UC1);
  engine.derain(grey, expected);
  EXPECT_EQ(cv::norm(grey_out, expected, cv::NORM_INF), 0.0);

  // JPEG cannot hold 16 bits or alpha: said, and converted (not silently wrapped).
  const Result r = runWith({"--input", path("deep.png"), "--output", path("deep-out.jpg")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("scaled to 8-bit"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no alpha channel"), std::string::npos) << r.err;
  EXPECT_EQ(cv::imread(path("deep-out.jpg"), cv::IMREAD_UNCHANGED).type(), CV_8UC3);
}

TEST_F(RunCli, VideosUseTemporalModeAndWindowZeroIsFrameByFrame) {
  // Output frames, read back (MJPG is lossy), against the library run on the decoded input frames:
  // window 0 = Engine::derain per frame; the default = derain::VideoDerainer with its defaults.
  {  // one scene, a bright streak that moves: rain the neighbouring frames can explain
    cv::VideoWriter writer(path("clip.avi"), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(64, 48));
    if (!writer.isOpened()) GTEST_SKIP() << "no MJPG writer";
    const cv::Mat background = testimg::scene(64, 48, 7);
    for (int i = 0; i < 6; ++i) {
      cv::Mat frame = background.clone();
      cv::line(frame, cv::Point(6 + 9 * i, 0), cv::Point(10 + 9 * i, 47), cv::Scalar::all(250), 1);
      writer.write(frame);
    }
  }
  std::vector<cv::Mat> frames;
  {
    cv::VideoCapture capture(path("clip.avi"));
    for (cv::Mat f; capture.read(f);) frames.push_back(f.clone());
  }
  ASSERT_EQ(frames.size(), 6u);
  derain::EngineOptions one_thread;
  one_thread.threads = 1;
  derain::Engine engine(model_, one_thread);
  std::vector<cv::Mat> per_frame, temporal;
  for (const auto& f : frames) {
    cv::Mat d;
    engine.derain(f, d);
    per_frame.push_back(d);
  }
  derain::VideoDerainer video(engine);
  for (const auto& f : frames) video.process(f, temporal);
  video.flush(temporal);
  ASSERT_EQ(temporal.size(), 6u);

  auto readBack = [&](const std::string& name) {
    std::vector<cv::Mat> out;
    cv::VideoCapture capture(path(name));
    for (cv::Mat f; capture.read(f);) out.push_back(f.clone());
    return out;
  };
  auto meanError = [](const std::vector<cv::Mat>& a, const std::vector<cv::Mat>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += cv::norm(a[i], b[i], cv::NORM_L1) / a[i].total() / 3;
    return sum / a.size();
  };
  ASSERT_EQ(runWith({"--input", path("clip.avi"), "--output", path("alone.avi"), "--temporal-window", "0"}).exit_code, 0);
  ASSERT_EQ(runWith({"--input", path("clip.avi"), "--output", path("video.avi")}).exit_code, 0);
  const auto alone = readBack("alone.avi"), video_out = readBack("video.avi");
  ASSERT_EQ(alone.size(), 6u);
  ASSERT_EQ(video_out.size(), 6u);
  // Each written file is within MJPG's loss of its own reference, and the two modes really differ.
  EXPECT_LT(meanError(alone, per_frame), 3.0);
  EXPECT_LT(meanError(video_out, temporal), 3.0);
  EXPECT_GT(meanError(per_frame, temporal), 0.0);
  EXPECT_EQ(runWith({"--input", path("clip.avi"), "--output", path("x.avi"), "--temporal-window", "9"}).exit_code, 2);
}

TEST_F(RunCli, OutOfRangeIntegersAreUsageErrors) {
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--tile-size", "4294967301"},
                                                                {"--threads", "4294967297"},
                                                                {"--threads", "257"},
                                                                {"--tile-size", "8"},
                                                                {"--tile-overlap", "-1"},
                                                                {"--tile-overlap", "99999999999999999999999"}}) {
    std::vector<std::string> args{"--demo", path("d")};
    args.insert(args.end(), bad.begin(), bad.end());
    const Result r = run("DERAIN_RUN_BIN", args);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << " " << bad[1] << ": " << r.err;
    EXPECT_NE(r.err.find(bad[0]), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("d")));
  }
}

// --rain-strength is a float in [0, 4] (derain::kMaxRainStrength): outside, NaN or not a number is a
// usage error naming the option, before anything is written.
TEST_F(RunCli, OutOfRangeRainStrengthIsAUsageError) {
  for (const char* bad : {"-0.5", "4.5", "nan", "strong"}) {
    const Result r = run("DERAIN_RUN_BIN", {"--demo", path("d"), "--rain-strength", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("rain-strength"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("d")));
  }
}

TEST_F(RunCli, MoreThreadsThanCoresIsAWarning) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0 || cores >= 256) GTEST_SKIP() << "core count unknown or too high";
  // A missing model stops the run right after the options are read.
  const Result r = run("DERAIN_RUN_BIN", {"--demo", path("d"), "--threads", std::to_string(cores + 1), "--model",
                                          path("missing.derain")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("warning: --threads " + std::to_string(cores + 1) + " is more than"), std::string::npos)
      << r.err;
}

TEST_F(Cli, EvalOutputFolderThatIsAnInputFolderIsRefused) {
  makePairs(2, 32, 32);
  const std::string rainy_before = readText(root_ / "rainy" / "img0.png");
  const std::string clean_before = readText(root_ / "clean" / "img0.png");
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--out", path("rainy")}, {"--out", path("clean") + "/"}, {"--out", path("clean/sub")}, {"--out", path("")}};
  for (const auto& [option, folder] : cases) {
    const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean"), option, folder});
    EXPECT_EQ(r.exit_code, 1) << folder;
    EXPECT_NE(r.err.find("refusing to write into " + option), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("mean PSNR"), std::string::npos);
  }
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--model", model, "--derained",
                         path("clean")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'" + path("clean") + "'"), std::string::npos) << r.err;
  EXPECT_EQ(readText(root_ / "rainy" / "img0.png"), rainy_before);
  EXPECT_EQ(readText(root_ / "clean" / "img0.png"), clean_before);
  EXPECT_EQ(folderNames(root_ / "clean"), (std::vector<std::string>{"img0.png", "img1.png"}));
}

// The benchmarks' outputs: derain-bench's --output keeps its earlier lines and never lands on the
// model it times; derain-video-bench's --real-picture never replaces its clip or model.
TEST_F(Cli, BenchOutputKeepsEarlierLinesAndSparesTheModel) {
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 3).save(model);
  const std::string model_bytes = readText(model);
  const std::vector<std::string> quick{"--model", model, "--size", "32x32", "--seconds", "0.05", "--threads", "1"};
  auto with = [&](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  Result r = run("DERAIN_BENCH_BIN", with(quick, {"--output", model}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("refusing to write '" + model + "'"), std::string::npos) << r.err;
  EXPECT_TRUE(readText(model) == model_bytes) << "the model was changed";

  std::ofstream(path("bench.txt")) << "an earlier line\n";
  r = run("DERAIN_BENCH_BIN", with(quick, {"--output", path("bench.txt")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(readText(path("bench.txt")), "an earlier line\n" + r.out);  // exactly the printed lines, added
  EXPECT_NE(r.out.find("ceiling 3x3 conv fp32"), std::string::npos) << r.out;
  EXPECT_TRUE(leftovers(root_).empty());

  fs::create_directories(root_ / "data" / "video");
  std::ofstream(path("data/video/corner-rain-320x240.mp4")) << "the clip";
  for (const std::string& input : {path("data/video/corner-rain-320x240.mp4"), model}) {
    r = run("DERAIN_VIDEO_BENCH_BIN", {"--data", path("data"), "--model", model, "--real-picture", input});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("refusing to write '" + input + "'"), std::string::npos) << r.err;
  }
  EXPECT_EQ(readText(path("data/video/corner-rain-320x240.mp4")), "the clip");
  EXPECT_TRUE(readText(model) == model_bytes) << "the model was changed";
}

TEST_F(Cli, FailedEvalLeavesThePreviousCsvIntact) {
  makePairs(3, 32, 32);
  std::ofstream(path("scores.csv")) << "name,psnr,ssim\nprevious,1,1\n";
  // The side-by-side of the second pair cannot be written: a folder has its name.
  fs::create_directories(root_ / "sbs" / "img1.png");
  const Result r = eval({"--rainy", path("rainy"), "--clean", path("clean"), "--csv", path("scores.csv"), "--out",
                         path("sbs")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("img1.png"), std::string::npos) << r.err;
  EXPECT_EQ(readText(path("scores.csv")), "name,psnr,ssim\nprevious,1,1\n");
  EXPECT_TRUE(leftovers(root_).empty());
}

TEST_F(Cli, EvalSkipsPairsSmallerThanTheSsimWindow) {
  makePairs(2, 32, 32);
  ASSERT_TRUE(cv::imwrite((root_ / "rainy" / "tiny.png").string(), testimg::scene(3, 2, 1)));
  ASSERT_TRUE(cv::imwrite((root_ / "clean" / "tiny.png").string(), testimg::scene(3, 2, 2)));
  const Result all = eval({"--rainy", path("rainy"), "--clean", path("clean")});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.err.find("warning: skipping '" + (root_ / "rainy" / "tiny.png").string() + "': 3x2"),
            std::string::npos)
      << all.err;
  EXPECT_NE(all.err.find("1 pair(s) skipped"), std::string::npos) << all.err;
  fs::remove(root_ / "rainy" / "tiny.png");
  fs::remove(root_ / "clean" / "tiny.png");
  const Result two = eval({"--rainy", path("rainy"), "--clean", path("clean")});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(all.lastLine(), two.lastLine());  // the mean of the two scorable pairs
  EXPECT_NE(all.lastLine().find("over 2 images"), std::string::npos) << all.lastLine();
}

TEST_F(Cli, RainmakeOutputThatIsTheInputIsRefused) {
  ASSERT_TRUE(cv::imwrite(path("in.png"), testimg::scene(40, 32, 1)));
  const std::string model = path("lite.derain");
  derain::Engine::untrained(derain::ModelConfig::lite(), 7).save(model);
  const std::string before = readText(path("in.png"));
  const Result r = rainmake({"--model", model, "--input", path("in.png"), "--output", path("in.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("it is the input"), std::string::npos) << r.err;
  EXPECT_EQ(readText(path("in.png")), before);
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

// --style storm: the other rain model, reproducible from the seed, recorded in params.csv; the
// procedural ranges and --video do not apply to it (usage errors, nothing written).
TEST_F(SynthCli, StormStyleIsReproducibleAndRefusesProceduralOptions) {
  makeCleanFolder();
  Result r = synth({"--clean", path("in"), "--out", path("a"), "--style", "storm", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(synth({"--clean", path("in"), "--out", path("b"), "--style", "storm", "--seed", "3"}).exit_code, 0);
  ASSERT_EQ(synth({"--clean", path("in"), "--out", path("p"), "--seed", "3"}).exit_code, 0);
  for (const char* name : {"s0.png", "photo.png"}) {
    EXPECT_EQ(readText(root_ / "a" / "rainy" / name), readText(root_ / "b" / "rainy" / name)) << name;
    EXPECT_NE(readText(root_ / "a" / "rainy" / name), readText(root_ / "p" / "rainy" / name)) << name;
    const cv::Mat clean = cv::imread((root_ / "a" / "clean" / name).string());
    const cv::Mat rainy = cv::imread((root_ / "a" / "rainy" / name).string());
    cv::Mat lower;
    cv::compare(rainy, clean, lower, cv::CMP_LT);
    EXPECT_EQ(cv::countNonZero(lower.reshape(1)), 0) << name << ": storm rain only adds light";
  }
  const std::string params = readText(root_ / "a" / "params.csv");
  EXPECT_EQ(params.rfind("name,style,seed\nphoto.png,storm,", 0), 0u) << params;
  EXPECT_EQ(std::count(params.begin(), params.end(), '\n'), 5) << params;
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--density", "0.1"},
                                                 std::vector<std::string>{"--video"},
                                                 std::vector<std::string>{"--style", "hail"}}) {
    std::vector<std::string> args{"--clean", path("in"), "--out", path("bad"), "--style", "storm"};
    args.insert(args.end(), extra.begin(), extra.end());
    r = synth(args);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.err;
    EXPECT_FALSE(fs::exists(root_ / "bad")) << extra[0];
  }
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
  engine.rainmake(cv::imread(path("in/c1.png")), expected, derain::ColorOrder::BGR, derain::RainmakeOptions{0.5f, 3, {}});
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

TEST_F(RainmakeCli, RainReferenceDrivesGrWithThatPhotosMaskResizedToEachInput) {
  ASSERT_TRUE(cv::imwrite(path("reference.png"), testimg::scene(64, 48, 5)));
  Result r = rainmake({"--model", model_, "--input", path("in/c0.png"), "--output", path("ref.png"), "--threads",
                       "1", "--noise", "0.2", "--seed", "4", "--rain-reference", path("reference.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  derain::EngineOptions options;
  options.threads = 1;
  derain::Engine engine(model_, options);
  // (The untrained model barely reacts to its mask; that the reference changes the rain is checked
  // with a strongly weighted model in tests/core/test_engine.cpp.)
  cv::Mat expected;
  const cv::Mat clean = cv::imread(path("in/c0.png"));
  engine.rainmake(clean, expected, derain::ColorOrder::BGR,
                  derain::RainmakeOptions{0.2f, 4, cv::imread(path("reference.png"))});
  const cv::Mat written = cv::imread(path("ref.png"));
  EXPECT_EQ(written.size(), clean.size());
  EXPECT_TRUE(samePixels(written, expected));

  r = rainmake({"--model", model_, "--input", path("in/c0.png"), "--output", path("x.png"), "--rain-reference",
                path("no-reference.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-reference.png"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("x.png")));

  // The reference is an input: an output that would replace it is refused, and it stays as it was.
  const std::string before = readText(path("reference.png"));
  r = rainmake({"--model", model_, "--input", path("in/c0.png"), "--output", path("reference.png"),
                "--rain-reference", path("reference.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
  dir("set/rainy");
  ASSERT_TRUE(cv::imwrite(path("set/rainy/c0.png"), testimg::scene(64, 48, 6)));
  const std::string in_out = readText(path("set/rainy/c0.png"));
  r = rainmake({"--model", model_, "--clean", path("in"), "--out", path("set"), "--rain-reference",
                path("set/rainy/c0.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("where the outputs are written"), std::string::npos) << r.err;
  EXPECT_EQ(readText(path("reference.png")), before);
  EXPECT_EQ(readText(path("set/rainy/c0.png")), in_out);
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
