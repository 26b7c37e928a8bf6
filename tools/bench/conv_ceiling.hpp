// The machine's practical convolution ceiling: GFLOP/s of a large 3x3 convolution in the same
// layout and precision the engine uses, so benchmark figures can be read as a fraction of it.
#pragma once

#include <string>

#include "derain/types.hpp"

namespace derain::bench {

// 3x3 conv 64 -> 64 channels on a 1 x 64 x 256 x 256 channels_last tensor, CPU, `threads` threads,
// in fp32 or bf16 (LibTorch's convolution); INT8 throws std::invalid_argument (int8's is below).
double convCeilingGflops(Precision precision, int threads);

// The same convolution as precision int8 runs it (u8 source, s8 weights, bf16 output; oneDNN's
// API). Defined in int8_ceiling.cpp, linked only by the benchmarks built with oneDNN's API.
double int8ConvCeilingGflops(int threads);

// The line every benchmark prints before its figures, in one format:
// "ceiling 3x3 conv fp32: 444.3 GFLOP/s (2 threads, bf16 native: yes)".
std::string ceilingLine(Precision precision, double gflops, int threads);

}  // namespace derain::bench
