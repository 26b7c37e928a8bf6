// Inference: derain and rainmake 8-bit or float images with a DerainCycleGAN model.
// No torch types here: the networks live behind a pimpl, so including this header is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "derain/config.hpp"
#include "derain/types.hpp"

namespace derain {

struct EngineOptions {
  Device device = Device::Auto;
  Precision precision = Precision::FP32;
  int threads = 0;         // intra-op threads; 0 = every core of the machine
  int tile_size = 0;       // tile side in pixels; 0 = auto (whole frame up to kAutoTileMaxPixels)
  int tile_overlap = 32;   // pixels shared by neighbouring tiles, blended linearly
};

// Frames with more pixels than this are tiled automatically when tile_size is 0 (bounds memory).
constexpr int64_t kAutoTileMaxPixels = 1920LL * 1088LL;
// Tile side used by automatic tiling.
constexpr int kAutoTileSize = 768;

struct RainmakeOptions {
  float mask_noise = 0.0f;  // std-dev of Gaussian noise added to the attention mask (varies the rain)
  uint64_t seed = 0;        // seed of that noise
};

// Note: the first Engine raises glibc's malloc mmap/trim thresholds (process-wide) so tensor buffers
// are reused between frames instead of page-faulted in anew; set DERAIN_KEEP_MALLOC=1 to prevent it.
class Engine {
 public:
  // Loads an inference model file (or a training checkpoint). Throws ModelFileError naming the file
  // and the problem for a missing, truncated, corrupt, foreign or wrong-version file, and
  // DeviceError when the device or precision cannot be had.
  explicit Engine(const std::string& model_path, const EngineOptions& options = {});
  // A freshly initialised (untrained) model of the given architecture: N(0, 0.02) weights from seed.
  static Engine untrained(const ModelConfig& config, uint64_t seed, const EngineOptions& options = {});

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // Derain n_r = G_N(Att(r), r). src: CV_8UC3 (0..255) or CV_32FC3 (0..1), any size >= 1x1,
  // channel order as given. dst gets the same size and type. Throws derain::Error on bad input.
  void derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order = ColorOrder::BGR);
  // Rainmake r_n = G_R(Att(n), n), optionally with noise on the mask.
  void rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order = ColorOrder::BGR,
                const RainmakeOptions& rain = {});
  // The U-ARSE rain-streak mask Att(x) of an image: CV_32FC1 of the image's size.
  void attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order = ColorOrder::BGR);

  // Writes the inference model file (format version, config, U-ARSE / G_N / G_R weights), atomically.
  void save(const std::string& path) const;

  const ModelConfig& config() const;
  const EngineOptions& options() const;
  Device device() const;        // resolved: never Auto
  Precision precision() const;  // resolved: never Auto
  bool trained() const;         // false for untrained(); true for a loaded file
  std::string describe() const; // one line: preset, device, precision, threads, parameter count

  // Number of multiply-accumulates of one forward pass (attention + one generator) at this size.
  int64_t macsPerFrame(int width, int height) const;

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether this build of libderain can run on CUDA, and whether a GPU is present now.
bool cudaBuilt();
bool cudaAvailable();
// Whether the CPU does bf16 natively (avx512_bf16 or AMX).
bool cpuHasNativeBf16();
// Intra-op threads LibTorch uses right now (the Engine sets this from EngineOptions::threads).
int runtimeThreads();

// Path of the default model "default.derain": $DERAIN_MODEL if set, else the installed copy
// (<prefix>/share/libderain/models), else the source tree's models/ (uninstalled builds).
// Empty string when none exists.
std::string defaultModelPath();

}  // namespace derain
