// The machine's practical convolution ceiling: GFLOP/s of a large 3x3 convolution in the same
// layout and precision the engine uses, so benchmark figures can be read as a fraction of it.
#pragma once

#include <string>

#include "derain/types.hpp"

namespace derain::bench {

// 3x3 conv 64 -> 64 channels on a 1 x 64 x 256 x 256 channels_last tensor, CPU, `threads` threads.
double convCeilingGflops(Precision precision, int threads);

// The line every benchmark prints before its figures, in one format:
// "ceiling 3x3 conv fp32: 444.3 GFLOP/s (2 threads, bf16 native: yes)".
std::string ceilingLine(Precision precision, double gflops, int threads);

}  // namespace derain::bench
