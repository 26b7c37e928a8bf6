// Pixel-by-pixel copies between channels_last buffers whose pixels are laid out at different
// strides (one part's channels into a wider tensor's channel slice). Header-only and torch-free:
// the OpenMP-built LSTM cell and the torch-side channel copies both use it.
#pragma once

#include <cstdint>
#include <cstring>

namespace derain::detail {

// `count` pixels of `bytes` each: pixel p from src + p * src_stride to dst + p * dst_stride (bytes).
inline void copyPixels(const void* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t bytes,
                       int64_t count) {
  const auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
  for (int64_t p = 0; p < count; ++p) std::memcpy(d + p * dst_stride, s + p * src_stride, bytes);
}

}  // namespace derain::detail
