// Rounding of blended 8-bit levels, used on every pixel of the temporal path's blends.
#pragma once

#include <cstdint>

namespace derain::detail {

// std::lround of a level in [0, 255] (half away from zero), without its library call: in double,
// v + 0.5 is exact for any float v, and truncating a non-negative value is floor.
inline uint8_t roundLevel(float v) { return static_cast<uint8_t>(static_cast<int>(static_cast<double>(v) + 0.5)); }

}  // namespace derain::detail
