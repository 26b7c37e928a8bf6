// Resolving EngineOptions against this build and machine: device, precision, threads.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "derain/types.hpp"

namespace derain::detail {

// Auto -> CUDA if usable, else CPU. CUDA requested but unusable -> DeviceError saying why.
Device resolveDevice(Device requested);
c10::Device torchDevice(Device resolved);

// Auto -> BF16 where native on that device, else FP32.
Precision resolvePrecision(Precision requested, Device resolved);
c10::ScalarType torchDtype(Precision resolved);

// 0 -> every core; out of [0, kMaxThreads] -> derain::Error (EngineOptions::validate checks first).
int resolveThreads(int requested);

// Sets LibTorch's intra-op thread count for the calling thread when it differs (OpenMP keeps it per thread).
void applyThreads(int threads);

}  // namespace derain::detail
