// One convolution timed through oneDNN's API in bf16 or in int8 (u8 source, s8 weights, bf16 output
// through per-channel output scales), with a fused ReLU, NHWC, forward inference: the int8 ceiling
// line and derain-int8-probe. Benchmarks that link oneDNN only. Torch-free.
#pragma once

#include <vector>

#include "nets/onednn_conv.h"  // ConvGeometry (the engine's own description of a convolution)

namespace derain::bench {

enum class TimedForm {
  BF16,
  Int8,                // the kernel alone: the int8 ceiling line
  Int8AsTheEngineRuns  // with the grid's run-time multiply before the ReLU, as precision int8 runs it
};

// The mean time of one run, in ms, for each of `rounds` rounds of `runs` runs (after a warm-up),
// on the calling thread's OpenMP threads (at::set_num_threads sets them).
std::vector<double> oneDnnConvRoundsMs(const detail::ConvGeometry& g, TimedForm form, int rounds, int runs);

}  // namespace derain::bench
