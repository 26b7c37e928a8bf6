// derain-train as a user runs it: usage errors, --help, a SIGTERM mid-run that leaves a checkpoint,
// and --resume reproducing the uninterrupted run's losses and model bit for bit.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "derain/engine.hpp"
#include "training/checkpoint.h"
#include "training/training_run.h"
#include "training_test_support.h"

using derain::training_test::TempDir;
using derain::training_test::spawnTrainer;

namespace {

// The runs here are short; the limit only turns a hang into a failure.
int waitExit(pid_t pid) { return derain::training_test::waitExit(pid, std::chrono::minutes(30)); }

struct Result {
  int code;
  std::string output;
};

Result run(const std::vector<std::string>& args, const TempDir& dir) {
  const std::string log = dir.file("log.txt");
  int code = waitExit(spawnTrainer(args, {}, log));
  return {code, derain::training_test::readBytes(log)};
}

size_t lineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (derain::training_test::trainBinary().empty()) GTEST_SKIP() << "DERAIN_TRAIN_BIN not set";
    derain::training_test::writeTinyRunData(dir);
  }
  std::vector<std::string> common(const std::string& out, int iters) {
    return derain::training_test::tinyRunArgs(dir, out, iters);
  }
  TempDir dir;
};

}  // namespace

TEST_F(TrainCli, HelpDocumentsTheOptions) {
  Result r = run({"--help"}, dir);
  EXPECT_EQ(r.code, 0);
  for (const char* word : {"--rainy", "--clean", "--out", "--preset", "--config", "--iters", "--epochs", "--crop",
                           "--batch", "--device", "--threads", "--seed", "--resume", "--vgg-weights", "--w-gmm",
                           "--sample-every", "--checkpoint-every", "train.lr", "model.derain"})
    EXPECT_NE(r.output.find(word), std::string::npos) << word;
}

TEST_F(TrainCli, BadArgumentsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  auto with = [&](std::vector<std::string> extra) {
    auto a = common("out", 5);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<Case> cases = {
      {{}, "missing required option"},
      {{"--rainy", dir.file("rainy"), "--clean", dir.file("clean")}, "--out"},
      {with({"--device", "gpu"}), "gpu"},
      {with({"--crop", "30"}), "crop"},
      {with({"--iters", "ten"}), "integer"},
      {with({"--iters", "0"}), "--iters"},
      {with({"--preset", "huge"}), "huge"},
      {with({"--no-such-option"}), "unknown option"},
      {{"--rainy", dir.file("nowhere"), "--clean", dir.file("clean"), "--out", dir.file("out")}, "nowhere"},
  };
  std::vector<Case> all = cases;
  if (!derain::cudaAvailable()) all.push_back({with({"--device", "cuda"}), "CUDA"});  // this build/machine lacks it
  for (const auto& c : all) {
    Result r = run(c.args, dir);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out/checkpoint.derain")));
  }
}

TEST_F(TrainCli, FolderWithoutUsableImagesIsAnError) {
  std::filesystem::create_directories(dir.file("junk"));
  std::ofstream(dir.file("junk/a.png")) << "not an image";
  auto args = common("out", 5);
  args[1] = dir.file("junk");
  Result r = run(args, dir);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("a.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no usable rainy images"), std::string::npos) << r.output;
}

TEST_F(TrainCli, KilledRunResumesToTheUninterruptedResult) {
  const int iters = 120;
  Result full = run(common("full", iters), dir);
  ASSERT_EQ(full.code, 0) << full.output;
  EXPECT_NE(full.output.find("perceptual loss: OFF"), std::string::npos) << full.output;

  // Same run, terminated once a few iterations are logged.
  pid_t pid = spawnTrainer(common("split", iters), {}, dir.file("split.log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (lineCount(dir.file("split/losses.csv")) < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGTERM);
  const int code = waitExit(pid);
  const std::string log = derain::training_test::readBytes(dir.file("split.log"));
  ASSERT_EQ(code, 128 + SIGTERM) << log;
  EXPECT_NE(log.find("--resume"), std::string::npos) << log;
  EXPECT_TRUE(std::filesystem::exists(dir.file("split/checkpoint.derain")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("split/model.derain")));
  const size_t rows_at_kill = lineCount(dir.file("split/losses.csv"));
  EXPECT_LT(rows_at_kill, static_cast<size_t>(iters + 1));

  // Settings are the checkpoint's: changing them on resume is refused.
  auto changed = common("split", iters);
  changed.insert(changed.end(), {"--resume", "--lr", "0.1"});
  EXPECT_EQ(run(changed, dir).code, 2);

  std::vector<std::string> resume = {"--rainy", dir.file("rainy"), "--clean", dir.file("clean"), "--out",
                                     dir.file("split"), "--resume", "--threads", "1", "--device", "cpu", "--quiet"};
  Result resumed = run(resume, dir);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(derain::training_test::readBytes(dir.file("full/losses.csv")),
            derain::training_test::readBytes(dir.file("split/losses.csv")));
  EXPECT_EQ(derain::training_test::readBytes(dir.file("full/model.derain")),
            derain::training_test::readBytes(dir.file("split/model.derain")));
}

TEST_F(TrainCli, NonEmptyOutFolderIsRefusedWithoutResumeOrForce) {
  ASSERT_EQ(run(common("out", 3), dir).code, 0);
  // A finished run without its checkpoint (the case the old guard missed), then one with it.
  std::filesystem::rename(dir.file("out/checkpoint.derain"), dir.file("checkpoint.saved"));
  const std::string model = derain::training_test::readBytes(dir.file("out/model.derain"));
  const std::string losses = derain::training_test::readBytes(dir.file("out/losses.csv"));
  const std::string conf = derain::training_test::readBytes(dir.file("out/training.conf"));
  for (int with_checkpoint = 0; with_checkpoint < 2; ++with_checkpoint) {
    if (with_checkpoint) std::filesystem::rename(dir.file("checkpoint.saved"), dir.file("out/checkpoint.derain"));
    Result r = run(common("out", 5), dir);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("derain-train: error: the output folder '" + dir.file("out") + "' is not empty"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
    EXPECT_EQ(derain::training_test::readBytes(dir.file("out/model.derain")), model);
    EXPECT_EQ(derain::training_test::readBytes(dir.file("out/losses.csv")), losses);
    EXPECT_EQ(derain::training_test::readBytes(dir.file("out/training.conf")), conf);
  }
  auto forced = common("out", 4);
  forced.push_back("--force");
  Result r = run(forced, dir);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lineCount(dir.file("out/losses.csv")), 5u);  // the new run's log, not appended to the old
  auto both = common("out", 4);
  both.insert(both.end(), {"--force", "--resume"});
  EXPECT_EQ(run(both, dir).code, 2);
}

TEST_F(TrainCli, OutFolderMayNotMeetTheInputs) {
  const auto listing = [](const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder))
      names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto rainy = listing(dir.file("rainy")), clean = listing(dir.file("clean"));
  // The data folder itself (another spelling of it), a folder inside it, a folder holding it.
  std::filesystem::create_directories(dir.file("holder"));
  std::filesystem::rename(dir.file("clean"), dir.file("holder/clean"));
  for (const auto& [out, option] : std::vector<std::pair<std::string, std::string>>{
           {"rainy/.", "--rainy"}, {"rainy/run", "--rainy"}, {"holder", "--clean"}}) {
    auto args = common(out, 2);
    args[3] = dir.file("holder/clean");
    args.push_back("--force");
    Result r = run(args, dir);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("error: refusing to write into --out"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("the input folder " + option), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("rainy/run")));
  std::filesystem::rename(dir.file("holder/clean"), dir.file("clean"));
  EXPECT_EQ(listing(dir.file("rainy")), rainy);
  EXPECT_EQ(listing(dir.file("clean")), clean);
  // A config file inside a used --out that --force starts over in.
  ASSERT_EQ(run(common("out", 2), dir).code, 0);
  std::filesystem::copy_file(dir.file("tiny.conf"), dir.file("out/my.conf"));
  auto args = common("out", 2);
  args[7] = dir.file("out/my.conf");
  args.push_back("--force");
  Result r = run(args, dir);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: refusing --config '" + dir.file("out/my.conf") + "': it lies in the output folder"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(derain::training_test::readBytes(dir.file("out/my.conf")),
            derain::training_test::readBytes(dir.file("tiny.conf")));
}

TEST_F(TrainCli, SecondTrainerOnALockedFolderFailsAtOnce) {
  std::filesystem::create_directories(dir.file("out"));
  const std::string lock = dir.file("out/.derain-train.lock");
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running trainer holds it
  const auto start = std::chrono::steady_clock::now();
  Result r = run(common("out", 50), dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("another derain-train is using the output folder '" + dir.file("out") + "'"),
            std::string::npos)
      << r.output;
  EXPECT_LT(seconds, 30.0);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/losses.csv")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/training.conf")));
  // Released: the same command runs.
  EXPECT_EQ(run(common("out", 2), dir).code, 0);
}

TEST_F(TrainCli, DefaultCheckpointIntervalIsATenthOfTheRun) {
  // 200 iterations: a checkpoint every 20. SIGKILL (no chance to write one on the way out) once 45
  // iterations are logged: the checkpoint on disk is one of 20, 40, ... and at least 40.
  pid_t pid = spawnTrainer(common("out", 200), {}, dir.file("run.log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (lineCount(dir.file("out/losses.csv")) < 46 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  waitExit(pid);
  const std::string log = derain::training_test::readBytes(dir.file("run.log"));
  EXPECT_NE(log.find("checkpoint every 20 iterations and every 10 minutes"), std::string::npos) << log;
  ASSERT_TRUE(std::filesystem::exists(dir.file("out/checkpoint.derain"))) << log;
  const int64_t iteration = derain::detail::readCheckpoint(dir.file("out/checkpoint.derain")).iteration;
  EXPECT_EQ(iteration % 20, 0) << iteration;
  EXPECT_GE(iteration, 40);
  EXPECT_EQ(derain::detail::defaultCheckpointInterval(30), 3);
  EXPECT_EQ(derain::detail::defaultCheckpointInterval(5), 1);
  EXPECT_EQ(derain::detail::defaultCheckpointInterval(400), 40);
  EXPECT_EQ(derain::detail::defaultCheckpointInterval(1000000), 1000);
}

TEST_F(TrainCli, OutOfRangeIntegersAreUsageErrors) {
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--iters", "4294967297"}, {"--threads", "100000"}, {"--checkpoint-every", "-1"}, {"--crop", "99999999999"}}) {
    auto args = common("out", 5);
    args.insert(args.end(), bad.begin(), bad.end());
    Result r = run(args, dir);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(bad[0]), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out")));
  }
}
