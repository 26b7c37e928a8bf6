// min and max on values, written so that GCC and clang emit minss / maxss (and vectorise the loops
// around them) where std::min / std::max's reference results compile to a compare and a jump per
// value, mispredicted on image data (the bounded rain layer took 4x as long with them). And rounding
// to an integer without a libm call, for the same loops. Torch-free.
#pragma once

namespace derain::detail {

inline float lesser(float a, float b) { return b < a ? b : a; }
inline float greater(float a, float b) { return b > a ? b : a; }

// Round half to even without a libm call (std::nearbyint compiled to one call per value): adding and
// subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer in the current
// (default: nearest-even) rounding mode, exactly as nearbyint does.
inline float roundHalfEven(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

}  // namespace derain::detail
