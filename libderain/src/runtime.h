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

// 0 -> every core; negative -> DeviceError.
int resolveThreads(int requested);
// LibTorch's intra-op thread count is process-wide: set it before each call when it differs.
void applyThreads(int threads);

}  // namespace derain::detail
