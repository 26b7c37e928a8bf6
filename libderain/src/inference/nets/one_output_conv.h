// A 3x3 convolution with a single output channel (the U-ARSE's features -> mask), stride 1, padding
// 1, as dot products: each output pixel is its 3x3 x C input window times the weights, 16 channels to
// an AVX-512 vector and one sum across the vector at the end. oneDNN pads the one output channel to
// 16 and did 16x the arithmetic: the lite model's three such convolutions (16 -> 1 at 160x90) took
// 0.32 ms a 640x360 frame in bf16 (a oneDNN trace, README's performance section), ~38 GFLOP/s where
// most of its other convolutions ran at 700-870. Sums in another order than oneDNN's: not
// bit-identical to it (fp32 within float rounding; bf16 the same products, exact in float, rounded
// once at the end).
// Torch-free.
#pragma once

#include <cstdint>

namespace derain::detail {

// True where this CPU runs the kernel (AVX-512F): elsewhere the caller keeps its oneDNN convolution,
// which would beat a scalar loop.
bool oneOutputConvAvailable();

// The channel counts the kernel takes: whole 16-channel vectors.
inline bool oneOutputConvChannelsSupported(int64_t channels) { return channels > 0 && channels % 16 == 0; }

struct OneOutputConvShape {
  int64_t batch, height, width, channels;
};

// input: [batch][height][width][channels] (channels_last), weights: [3][3][channels] (tap-major),
// output: [batch][height][width]. bf16 data as its 16-bit patterns; the result rounded to nearest even.
// oneOutputConvAvailable() and oneOutputConvChannelsSupported() must hold. Runs on parallelFor's
// threads (parallel_for.h).
void oneOutputConv3x3(const float* input, const float* weights, float bias, float* output,
                      const OneOutputConvShape& shape);
void oneOutputConv3x3Bf16(const uint16_t* input, const float* weights, float bias, uint16_t* output,
                          const OneOutputConvShape& shape);

}  // namespace derain::detail
