// float -> bfloat16 with round-to-nearest-even, as c10::BFloat16's constructor, minus its NaN test:
// without the branch, loops that convert vectorise. NaN inputs may come out as another NaN or an
// infinity; the networks' activations and images hold none.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <c10/util/BFloat16.h>

namespace derain::detail {

inline c10::BFloat16 toBf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return c10::BFloat16(static_cast<uint16_t>(bits >> 16), c10::BFloat16::from_bits());
}

// v rounded to bf16 and back: what an operator on bf16 tensors keeps of a float result.
inline float roundToBf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  bits &= 0xFFFF0000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// v stored as T: float as it is, bf16 rounded; and v rounded to T and read back (what an operator
// on T tensors keeps of a float result).
template <typename T>
inline T storedAs(float v) {
  if constexpr (std::is_same_v<T, float>)
    return v;
  else
    return toBf16(v);
}

template <typename T>
inline float roundedAs(float v) {
  if constexpr (std::is_same_v<T, float>)
    return v;
  else
    return roundToBf16(v);
}

}  // namespace derain::detail
