// Shared by the training tests: a tiny architecture, generated unpaired data (procedural scenes,
// with procedural rain on the rainy side) and temp folders.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derain/config.hpp"
#include "training/training_options.h"

namespace derain::training_test {

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Attention 2 stages x 8 channels, generator 8 channels, discriminator 2 scales x 8 channels.
ModelConfig tinyConfig();
// The same as a config file's text.
std::string tinyConfigText();
// Training options for tiny 32x32 runs: small history pool, so replacements happen early.
detail::TrainingOptions tinyTrainingOptions(int64_t iterations);

// A smooth scene with a few shapes, 8-bit BGR, deterministic for a seed.
cv::Mat makeScene(int width, int height, uint64_t seed);
// makeScene with procedural rain streaks added.
cv::Mat makeRainyScene(int width, int height, uint64_t seed);

// Writes `count` PNG scenes (rainy or clean) of about `side` pixels into `dir` (created); returns paths.
std::vector<std::string> writeDomain(const std::string& dir, int count, int side, bool rainy, uint64_t seed);

// The data of a tiny CLI run in `dir`: rainy/ (4 scenes), clean/ (3), tiny.conf (tinyConfigText with a
// history pool of 4); and the derain-train arguments of such a run (CPU, one thread, seed 3, quiet).
void writeTinyRunData(const TempDir& dir);
std::vector<std::string> tinyRunArgs(const TempDir& dir, const std::string& out, int iters);

// Whole-file byte comparison helpers.
std::string readBytes(const std::string& path);

// The derain-train binary the CLI tests run ($DERAIN_TRAIN_BIN; empty when unset).
std::string trainBinary();
// Starts it with `args` and extra environment `env`, stdout/stderr into `log`; returns the pid.
pid_t spawnTrainer(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                   const std::string& log);
// Exit code (1000 + signal if killed), or -1 if it did not end within `limit` (it is then killed).
int waitExit(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace derain::training_test
