// The activations of an int8 convolution (onednn_conv.h, ConvType::Int8): a bf16 tensor rounded to
// 8-bit integers on a grid chosen from its own range, on every run (dynamic quantisation: no
// calibration, and no clipping of a frame brighter than the ones before it).
// The grid is 2^e / q_max, q_max = 255 (u8) when no value is below zero, else 127 (s8), and 2^e the
// smallest power of two >= the tensor's largest magnitude: at most one bit coarser than the
// tightest grid, and a bf16 value times q_max / 2^e is exact in float (8 + 8 significant bits), so
// the rounding to a level is the only one. Torch-free; OpenMP (built in the -fopenmp archive).
#pragma once

#include <cstdint>
#include <cstring>

namespace derain::detail {

// The value of bf16 bits (widening is exact).
inline float bf16BitsValue(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float v;
  std::memcpy(&v, &wide, sizeof v);
  return v;
}

struct Int8Grid {
  bool is_signed = false;
  int exponent = 0;  // 0 for an all-zero tensor
  // The grid for a tensor whose largest positive value is `highest` and whose most negative value
  // is -`lowest_magnitude` (0 when none is below zero).
  static Int8Grid forRange(float highest, float lowest_magnitude);
  float maxLevel() const { return is_signed ? 127.0f : 255.0f; }
  float scale() const;  // the value of one level: 2^exponent / maxLevel()
  bool operator==(const Int8Grid& o) const { return is_signed == o.is_signed && exponent == o.exponent; }
  bool operator!=(const Int8Grid& o) const { return !(*this == o); }
};

// Finds the grid of n bf16 values (their bits) and writes out[i] = the level nearest to
// values[i] / grid.scale() (ties to even), as u8 or s8 bits; one pass of LibTorch's intra-op
// threads over the values for both (each thread quantises the part it measured, still in cache).
// Values must not be NaN or infinite (activations are neither).
Int8Grid quantiseBf16(const uint16_t* values, int64_t n, uint8_t* out);

}  // namespace derain::detail
