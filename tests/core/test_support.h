// Shared by the core tests: temp folders, generated images and models with weights large enough
// that outputs vary across the frame (N(0, 0.02) init gives near-constant outputs, which would let
// tiling or precision tests pass vacuously).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

#include "derain/config.hpp"

namespace derain::test {

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A smooth colourful scene with edges plus bright diagonal streaks; deterministic for a seed.
cv::Mat makeRainyScene(int width, int height, uint64_t seed);

// Writes an inference model file whose conv weights are He-scaled (std sqrt(2 / fan_in)).
void writeHeScaledModel(const std::string& path, const ModelConfig& config, uint64_t seed);

// A small architecture for fast tests.
ModelConfig tinyConfig();

}  // namespace derain::test
