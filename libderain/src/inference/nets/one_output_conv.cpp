#include "nets/one_output_conv.h"

#include <cstdlib>

#include "bf16_rounding.h"
#include "parallel_for.h"

#if defined(__x86_64__)
// GCC 12 warns of the "undefined" vectors inside its own AVX-512 intrinsics (_mm512_undefined_epi32,
// a known false positive of -W[maybe-]uninitialized).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#define DERAIN_ONE_OUTPUT_CONV 1
#define DERAIN_AVX512 __attribute__((target("avx512f")))
#else
#define DERAIN_ONE_OUTPUT_CONV 0
#endif

namespace derain::detail {

namespace {
constexpr int64_t kLanes = 16;       // floats to an AVX-512 vector
constexpr int64_t kTaps = 3;         // the kernel's side
constexpr int64_t kRowsPerTask = 4;  // output rows per parallelFor chunk (a 160-pixel row is ~2 us)
}  // namespace

#if DERAIN_ONE_OUTPUT_CONV
namespace {

DERAIN_AVX512 inline __m512 loadLanes(const float* p) { return _mm512_loadu_ps(p); }
// bf16 -> float is exact: the 16 bits become the float's upper half.
DERAIN_AVX512 inline __m512 loadLanes(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
inline void storeValue(float* p, float v) { *p = v; }
inline void storeValue(uint16_t* p, float v) { *p = toBf16(v).x; }
DERAIN_AVX512 inline void storeLanes(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
// Rounded to nearest even as toBf16: bits + 0x7FFF + (bit 16), upper half kept.
DERAIN_AVX512 inline void storeLanes(uint16_t* p, __m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
}

// The sums of 16 vectors' lanes, sums[i] in lane i: pairs of vectors added in halves, quarters, ...
// (3 instructions per pair) instead of a full horizontal sum per vector.
DERAIN_AVX512 inline __m512 laneSums(const __m512 (&v)[kLanes]) {
  __m512 pairs[8], quads[4], octets[2];
  for (int i = 0; i < 8; ++i)  // each 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 4; ++i) {  // each 128-bit lane: that lane's sums of 4 vectors, in order
    const __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  constexpr int kEven = 0b10001000, kOdd = 0b11011101;  // 128-bit lanes 0, 2 / 1, 3 of each input
  for (int i = 0; i < 2; ++i)
    octets[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], kEven),
                              _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], kOdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(octets[0], octets[1], kEven),
                       _mm512_shuffle_f32x4(octets[0], octets[1], kOdd));
}

// Output pixels x .. x + 15 of one row, none at the left or right edge (their windows lie inside the
// row): 16 vectors of partial sums, then laneSums.
template <typename T>
DERAIN_AVX512 inline void convolveBlock(const T* image, const float* weights, float bias, T* out,
                                        const OneOutputConvShape& s, int64_t y, int64_t ky_begin, int64_t ky_end,
                                        int64_t x) {
  const int64_t row_stride = s.width * s.channels;
  __m512 sums[kLanes];
#pragma GCC unroll 16
  for (int p = 0; p < kLanes; ++p) sums[p] = _mm512_setzero_ps();
  for (int64_t ky = ky_begin; ky < ky_end; ++ky) {
    const T* window_row = image + (y + ky - 1) * row_stride + (x - 1) * s.channels;
    for (int64_t kx = 0; kx < kTaps; ++kx) {
      for (int64_t c = 0; c < s.channels; c += kLanes) {
        const __m512 w = _mm512_loadu_ps(weights + (ky * kTaps + kx) * s.channels + c);
        const T* first = window_row + kx * s.channels + c;
#pragma GCC unroll 16
        for (int p = 0; p < kLanes; ++p) sums[p] = _mm512_fmadd_ps(loadLanes(first + p * s.channels), w, sums[p]);
      }
    }
  }
  storeLanes(out + x, _mm512_add_ps(_mm512_set1_ps(bias), laneSums(sums)));
}

// One output pixel, at an edge or not: its window's taps inside the image (padding adds zeros).
template <typename T>
DERAIN_AVX512 inline void convolvePixel(const T* image, const float* weights, float bias, T* out,
                                        const OneOutputConvShape& s, int64_t y, int64_t ky_begin, int64_t ky_end,
                                        int64_t x) {
  const int64_t row_stride = s.width * s.channels;
  const int64_t kx_begin = x == 0 ? 1 : 0, kx_end = x == s.width - 1 ? kTaps - 1 : kTaps;
  __m512 sum = _mm512_setzero_ps();
  for (int64_t ky = ky_begin; ky < ky_end; ++ky) {
    const T* window_row = image + (y + ky - 1) * row_stride;
    for (int64_t kx = kx_begin; kx < kx_end; ++kx) {
      const T* pixel = window_row + (x + kx - 1) * s.channels;
      const float* w = weights + (ky * kTaps + kx) * s.channels;
      for (int64_t c = 0; c < s.channels; c += kLanes)
        sum = _mm512_fmadd_ps(loadLanes(pixel + c), _mm512_loadu_ps(w + c), sum);
    }
  }
  storeValue(out + x, bias + _mm512_reduce_add_ps(sum));
}

template <typename T>
DERAIN_AVX512 void convolveRows(const T* input, const float* weights, float bias, T* output,
                                const OneOutputConvShape& s, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t n = row / s.height, y = row % s.height;
    const int64_t ky_begin = y == 0 ? 1 : 0, ky_end = y == s.height - 1 ? kTaps - 1 : kTaps;
    const T* image = input + n * s.height * s.width * s.channels;
    T* out = output + row * s.width;
    int64_t x = 0;
    if (x < s.width) convolvePixel(image, weights, bias, out, s, y, ky_begin, ky_end, x++);
    for (; x + kLanes <= s.width - 1; x += kLanes) convolveBlock(image, weights, bias, out, s, y, ky_begin, ky_end, x);
    for (; x < s.width; ++x) convolvePixel(image, weights, bias, out, s, y, ky_begin, ky_end, x);
  }
}

template <typename T>
void convolve(const T* input, const float* weights, float bias, T* output, const OneOutputConvShape& s) {
  parallelFor(0, s.batch * s.height, kRowsPerTask,
              [&](int64_t begin, int64_t end) { convolveRows(input, weights, bias, output, s, begin, end); });
}

}  // namespace

bool oneOutputConvAvailable() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

void oneOutputConv3x3(const float* input, const float* weights, float bias, float* output,
                      const OneOutputConvShape& shape) {
  convolve(input, weights, bias, output, shape);
}

void oneOutputConv3x3Bf16(const uint16_t* input, const float* weights, float bias, uint16_t* output,
                          const OneOutputConvShape& shape) {
  convolve(input, weights, bias, output, shape);
}

#else  // no x86-64: the callers keep oneDNN (oneOutputConvAvailable() is false)

bool oneOutputConvAvailable() { return false; }
void oneOutputConv3x3(const float*, const float*, float, float*, const OneOutputConvShape&) { std::abort(); }
void oneOutputConv3x3Bf16(const uint16_t*, const float*, float, uint16_t*, const OneOutputConvShape&) {
  std::abort();
}

#endif

}  // namespace derain::detail
