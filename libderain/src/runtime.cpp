#include "runtime.h"

#include <malloc.h>

#include <cstdlib>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "derain/engine.hpp"
#include "derain/error.hpp"

#ifndef DERAIN_MODELS_DIR
#define DERAIN_MODELS_DIR ""
#endif
#ifndef DERAIN_SOURCE_MODELS_DIR
#define DERAIN_SOURCE_MODELS_DIR ""
#endif

namespace derain {

namespace {
constexpr const char* kDefaultModelName = "default.derain";  // file name of the shipped model
constexpr const char* kModelEnv = "DERAIN_MODEL";             // overrides the default model path
}  // namespace

bool cudaBuilt() { return at::hasCUDA(); }

bool cudaAvailable() { return cudaBuilt() && torch::cuda::is_available(); }

bool cpuHasNativeBf16() {
  static const bool native = [] {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
      if (line.rfind("flags", 0) == 0)
        return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
    }
    return false;
  }();
  return native;
}

int runtimeThreads() { return at::get_num_threads(); }

std::string defaultModelPath() {
  if (const char* env = std::getenv(kModelEnv); env && *env) return env;
  // Installed copy first; then the source tree's models/ so an uninstalled build works as well.
  for (const char* dir : {DERAIN_MODELS_DIR, DERAIN_SOURCE_MODELS_DIR}) {
    if (!*dir) continue;
    std::error_code ec;
    const std::filesystem::path candidate = std::filesystem::path(dir) / kDefaultModelName;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

namespace detail {

Device resolveDevice(Device requested) {
  if (requested == Device::CPU) return Device::CPU;
  if (requested == Device::Auto) return cudaAvailable() ? Device::CUDA : Device::CPU;
  if (!cudaBuilt())
    throw DeviceError("device 'cuda' requested, but this libderain was built against a CPU-only LibTorch "
                      "(rebuild with -Dtorch_dir=<CUDA LibTorch>) - use device 'cpu' or 'auto'");
  if (!torch::cuda::is_available())
    throw DeviceError("device 'cuda' requested, but no CUDA GPU is available (driver missing or no device)");
  return Device::CUDA;
}

c10::Device torchDevice(Device resolved) {
  return resolved == Device::CUDA ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

Precision resolvePrecision(Precision requested, Device resolved) {
  if (requested != Precision::Auto) return requested;
  // Ampere+ GPUs do bf16 natively; without CUDA headers we cannot ask the compute capability cheaply,
  // so on CUDA auto stays fp32 unless asked for explicitly.
  if (resolved == Device::CPU && cpuHasNativeBf16()) return Precision::BF16;
  return Precision::FP32;
}

c10::ScalarType torchDtype(Precision resolved) {
  return resolved == Precision::BF16 ? c10::kBFloat16 : c10::kFloat;
}

int resolveThreads(int requested) {
  if (requested < 0) throw Error("threads must be >= 0 (0 = every core), got " + std::to_string(requested));
  if (requested > 0) return requested;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

void tuneAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("DERAIN_KEEP_MALLOC")) return;
    constexpr int kMmapThreshold = 512 << 20;  // buffers below 512 MB come from the reusable heap
    constexpr int kTrimThreshold = 1 << 30;    // keep up to 1 GB of free heap instead of trimming
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  });
}

void applyThreads(int threads) {
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

}  // namespace detail
}  // namespace derain
