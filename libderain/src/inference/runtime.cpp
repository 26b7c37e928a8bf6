#include "runtime.h"

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
#include "nets/onednn_conv.h"

namespace derain {

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
  if (requested == Precision::INT8) {
    if (resolved != Device::CPU) throw DeviceError("precision int8 runs on the CPU only - use device 'cpu'");
    if (!OneDnnConv::int8Available())
      throw DeviceError("precision int8 needs a CPU with AVX-512 VNNI and a libderain built with oneDNN's API "
                        "(this one: " + std::string(OneDnnConv::available() ? "no AVX-512 VNNI" : "no oneDNN API") +
                        ") - use bf16 or fp32");
    return requested;
  }
  if (requested != Precision::Auto) return requested;
  // Ampere+ GPUs do bf16 natively; without CUDA headers we cannot ask the compute capability cheaply,
  // so on CUDA auto stays fp32 unless asked for explicitly.
  if (resolved == Device::CPU && cpuHasNativeBf16()) return Precision::BF16;
  return Precision::FP32;
}

c10::ScalarType torchDtype(Precision resolved) {
  // An int8 network is a bf16 one whose convolutions sum integers (nets/int8_scope.h).
  return resolved == Precision::BF16 || resolved == Precision::INT8 ? c10::kBFloat16 : c10::kFloat;
}

int resolveThreads(int requested) {
  if (requested < 0) throw Error("threads must be >= 0 (0 = every core), got " + std::to_string(requested));
  if (requested > 0) return requested;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

void applyThreads(int threads) {
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

}  // namespace detail
}  // namespace derain
