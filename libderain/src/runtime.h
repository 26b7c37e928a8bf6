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
// glibc returns every large tensor buffer to the kernel on free and page-faults it back in on the next
// allocation; LibTorch has no CPU caching allocator, so per-frame inference spent most of its time
// zeroing fresh pages (measured: lite U-ARSE 540 -> 82 ms at 640x360). Raising the mmap and trim
// thresholds keeps freed buffers in the heap for reuse. Process-wide, done once; skipped when the
// environment variable DERAIN_KEEP_MALLOC is set (for applications that tune malloc themselves).
void tuneAllocator();

// LibTorch's intra-op thread count is process-wide: set it before each call when it differs.
void applyThreads(int threads);

}  // namespace derain::detail
