// Inference: derain and rainmake 8-bit or float images with a DerainCycleGAN model.
// No torch types here: the networks live behind a pimpl, so including this header is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "derain/config.hpp"
#include "derain/default_model.hpp"
#include "derain/engine_options.hpp"
#include "derain/export.hpp"
#include "derain/process.hpp"
#include "derain/types.hpp"

namespace derain {

// Thread-safety: one Engine may be used from one thread at a time; several Engines may run
// concurrently in different threads (tested bit-exact). Each call runs with the engine's thread
// count set for the calling thread only (LibTorch's OpenMP backend keeps it per thread), so engines
// with different `threads` in different threads do not change each other's setting. To share one engine between streams use
// derain::inferenceLibrary().openShared() (inference_library.hpp), whose engines serialise calls.
// Errors of LibTorch itself (out of memory, ...) arrive as derain::Error, never as c10::Error.
class DERAIN_API Engine {
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

  // Derain n_r = G_N(Att(r), r). src: any size >= 1x1; 8-bit (0..255), 16-bit (0..65535) or float
  // (0..1); 1 channel (grey: replicated for the network, the result converted back to grey), 3
  // (colour in `order`) or 4 (colour + alpha: alpha copied through bit-exact). dst gets src's size,
  // type and channel count; dst may be src. Frames larger than the tile size are processed in
  // streaming tiles: peak memory grows with the frame's width, not its area. Throws derain::Error on
  // bad input.
  void derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order = ColorOrder::BGR);
  // derain() that also hands out the U-ARSE mask Att(src) it computed on the way (CV_32FC1 of src's
  // size, as attention() gives): one network pass for both. dst is bit-identical to derain()'s.
  void derainWithAttention(const cv::Mat& src, cv::Mat& dst, cv::Mat& mask, ColorOrder order = ColorOrder::BGR);
  // Rainmake r_n = G_R(Att(n), n), optionally with noise on the mask.
  void rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order = ColorOrder::BGR,
                const RainmakeOptions& rain = {});
  // The U-ARSE rain-streak mask Att(x) of an image (types as derain()): CV_32FC1 of the image's size.
  void attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order = ColorOrder::BGR);

  // Writes the inference model file (format version, config, U-ARSE / G_N / G_R weights), atomically.
  void save(const std::string& path) const;

  const ModelConfig& config() const;
  const EngineOptions& options() const;
  // Changes the intra-op thread count (EngineOptions::threads) without reloading the model.
  // Throws derain::Error when out of range.
  void setThreads(int threads);
  // Changes EngineOptions::grey_rain without reloading the model.
  void setGreyRain(bool grey_rain);
  // Changes EngineOptions::bounded_rain without reloading the model.
  void setBoundedRain(bool bounded_rain);
  // Changes EngineOptions::rain_strength without reloading the model; derain::Error out of range.
  void setRainStrength(float strength);
  Device device() const;        // resolved: never Auto
  Precision precision() const;  // resolved: never Auto
  bool trained() const;         // false for untrained(); true for a loaded file
  std::string describe() const; // one line: preset, device, precision, threads, parameter count
  // The training recipe recorded in the model file by derain-train: its name and settings on one
  // line (e.g. "semi-supervised ...: lite, 16000 iterations, ..."). Empty for untrained(), for files
  // written before recipes were recorded, and for files saved from an engine that had none.
  std::string recipe() const;

  // Number of multiply-accumulates of one forward pass (attention + one generator) at this size.
  int64_t macsPerFrame(int width, int height) const;

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether this build of libderain can run on CUDA, and whether a GPU is present now.
DERAIN_API bool cudaBuilt();
DERAIN_API bool cudaAvailable();
// Whether the CPU does bf16 natively (avx512_bf16 or AMX).
DERAIN_API bool cpuHasNativeBf16();
// Intra-op threads LibTorch uses right now in the calling thread (an Engine call sets this from
// EngineOptions::threads for its calling thread).
DERAIN_API int runtimeThreads();



}  // namespace derain
