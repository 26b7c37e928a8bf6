#include "tiling.h"

#include <algorithm>

namespace derain::detail {

std::vector<Span> planSpans(int length, int tile, int overlap) {
  if (length <= tile) return {Span{0, length}};
  const int stride = tile - overlap;
  const int count = 1 + (length - tile + stride - 1) / stride;
  std::vector<Span> spans;
  for (int i = 0; i < count; ++i) {
    // Evenly spread starts from 0 to length - tile: every overlap is >= the requested one.
    const int begin = static_cast<int>((static_cast<int64_t>(length - tile) * i) / (count - 1));
    spans.push_back(Span{begin, tile});
  }
  return spans;
}

std::vector<float> spanWeights(const Span& span, int length, int overlap) {
  std::vector<float> w(span.size, 1.0f);
  if (overlap <= 0) return w;
  const bool fade_start = span.begin > 0, fade_end = span.begin + span.size < length;
  for (int i = 0; i < span.size; ++i) {
    float v = 1.0f;
    if (fade_start) v = std::min(v, (i + 0.5f) / overlap);
    if (fade_end) v = std::min(v, (span.size - i - 0.5f) / overlap);
    w[i] = v;
  }
  return w;
}

}  // namespace derain::detail
