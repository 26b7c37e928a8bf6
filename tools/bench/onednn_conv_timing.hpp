// One convolution timed through oneDNN's API in bf16 or in the form precision int8 runs its
// convolutions (u8 source, s8 weights, bf16 output through per-channel output scales), with a fused
// ReLU, NHWC, forward inference: the int8 ceiling line and derain-int8-probe. Benchmarks that link
// oneDNN only. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace derain::bench {

struct ConvShape {
  int64_t batch = 1, in_channels = 0, out_channels = 0, height = 0, width = 0;  // input
  int64_t kernel_h = 3, kernel_w = 3, stride_h = 1, stride_w = 1;
  int64_t pad_top = 1, pad_left = 1, pad_bottom = 1;  // right = left
  int64_t dilation_h = 1, dilation_w = 1;              // 1 = none
  int64_t outputHeight() const;
  int64_t outputWidth() const;
  double macs() const;  // multiply-adds of one run
};

// The mean time of one run, in ms, for each of `rounds` rounds of `runs` runs (after a warm-up),
// on the calling thread's OpenMP threads (at::set_num_threads sets them).
std::vector<double> oneDnnConvRoundsMs(const ConvShape& shape, bool int8, int rounds, int runs);

}  // namespace derain::bench
