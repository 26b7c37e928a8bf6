#include "nets/int8_quantise.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "branch_free.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int64_t kValuesPerThread = 1 << 14;  // below 16 K values (32 KB) one thread does it all
constexpr uint16_t kMagnitudeBits = 0x7FFF;

// Largest positive and largest negative magnitude as bf16 bits: for finite values the magnitude
// bits order like the magnitudes, so the search is an integer maximum, which vectorises (a float
// min/max reduction does not without -ffast-math). -0 counts as no negative value.
DERAIN_SIMD_CLONES void magnitudes(const uint16_t* values, int64_t begin, int64_t end, uint16_t* positive,
                                   uint16_t* negative) {
  uint16_t pos = 0, neg = 0;
  for (int64_t i = begin; i < end; ++i) {
    const uint16_t v = values[i];
    const uint16_t negative_mask = static_cast<uint16_t>(0 - (v >> 15));  // 0xFFFF where the sign is set
    const uint16_t magnitude = v & kMagnitudeBits;
    const uint16_t p = magnitude & static_cast<uint16_t>(~negative_mask), n = magnitude & negative_mask;
    pos = p > pos ? p : pos;
    neg = n > neg ? n : neg;
  }
  *positive = pos;
  *negative = neg;
}

DERAIN_SIMD_CLONES void levels(const uint16_t* values, int64_t begin, int64_t end, float inverse_scale,
                               float lowest_level, float highest_level, uint8_t* out) {
  for (int64_t i = begin; i < end; ++i) {
    // The levels lie within +-256: roundHalfEven's range.
    const float level = lesser(greater(roundHalfEven(bf16BitsValue(values[i]) * inverse_scale), lowest_level),
                               highest_level);
    // -127..255 as an int, then its low byte: the s8 bits of a negative level, the u8 bits otherwise.
    out[i] = static_cast<uint8_t>(static_cast<int32_t>(level));
  }
}
}  // namespace

Int8Grid Int8Grid::forRange(float highest, float lowest_magnitude) {
  Int8Grid grid;
  grid.is_signed = lowest_magnitude > 0.0f;
  const float peak = std::max(highest, lowest_magnitude);
  if (peak > 0.0f) {
    int exponent = 0;
    const float mantissa = std::frexp(peak, &exponent);  // peak = mantissa * 2^exponent, mantissa in [0.5, 1)
    grid.exponent = mantissa == 0.5f ? exponent - 1 : exponent;
  }
  return grid;
}

float Int8Grid::scale() const { return std::ldexp(1.0f, exponent) / maxLevel(); }

Int8Grid quantiseBf16(const uint16_t* values, int64_t n, uint8_t* out) {
  if (n <= 0) return {};
  int64_t workers = omp_in_parallel() ? 1 : omp_get_max_threads();
  workers = std::max<int64_t>(1, std::min(workers, (n + kValuesPerThread - 1) / kValuesPerThread));
  std::vector<uint16_t> positive(workers, 0), negative(workers, 0);
  Int8Grid grid;
  // One region, not two: each thread measures its part, one combines, each quantises its part.
#pragma omp parallel num_threads(static_cast<int>(workers))
  {
    const int64_t threads = omp_get_num_threads(), k = omp_get_thread_num();
    const int64_t chunk = (n + threads - 1) / threads;
    const int64_t first = std::min(n, k * chunk), last = std::min(n, first + chunk);
    if (first < last) magnitudes(values, first, last, &positive[k], &negative[k]);
#pragma omp barrier
#pragma omp single
    grid = Int8Grid::forRange(bf16BitsValue(*std::max_element(positive.begin(), positive.end())),
                              bf16BitsValue(*std::max_element(negative.begin(), negative.end())));
    // (single ends in a barrier: every thread sees the grid)
    const float inverse_scale = std::ldexp(grid.maxLevel(), -grid.exponent);
    if (first < last)
      levels(values, first, last, inverse_scale, grid.is_signed ? -127.0f : 0.0f, grid.maxLevel(), out);
  }
  return grid;
}

}  // namespace derain::detail
