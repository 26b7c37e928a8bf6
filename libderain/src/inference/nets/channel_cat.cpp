#include "nets/channel_cat.h"

#include <cstring>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "nets/pixel_copy.h"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr int64_t kPixelsPerTask = 2048;
// The generator's input: the 1-channel attention mask and the 3-channel image, unshuffled by 2.
constexpr int64_t kGeneratorFactor = 2, kMaskChannels = 1, kImageChannels = 3;

// Every part a dense channels_last CPU tensor of the first one's dtype, batch and spatial size, without
// gradients: the parts the copy loops below can take as plain arrays.
bool denseChannelsLastLike(c10::ArrayRef<at::Tensor> parts) {
  const auto& first = parts.front();
  if (!first.is_cpu() || first.dim() != 4) return false;
  for (const auto& p : parts)
    if (!p.is_cpu() || p.dim() != 4 || p.scalar_type() != first.scalar_type() || p.size(0) != first.size(0) ||
        p.size(2) != first.size(2) || p.size(3) != first.size(3) || !p.is_contiguous(at::MemoryFormat::ChannelsLast) ||
        p.requires_grad())
      return false;
  return true;
}

template <typename W>
struct Part {
  const W* data;
  int64_t channels;
};

// One input row of one part into its phases of the output row: kFactor and kChannels fixed when
// they are the generator's, so the copy loops unroll; else 0, read from factor and channels.
template <typename W, int64_t kFactor, int64_t kChannels>
inline __attribute__((always_inline)) void unshufflePartRow(const W* s_row, W* d, int64_t out_w, int64_t out_channels,
                                                            int64_t factor, int64_t channels) {
  const int64_t f = kFactor > 0 ? kFactor : factor, c = kChannels > 0 ? kChannels : channels, f2 = f * f;
  for (int64_t x = 0; x < out_w; ++x, d += out_channels) {
    const W* s = s_row + x * f * c;
    for (int64_t j = 0; j < f; ++j)
      for (int64_t k = 0; k < c; ++k) d[k * f2 + j] = s[j * c + k];
  }
}

// Output rows [begin, end). Element type W of the same size as the data: the copy moves bits,
// whatever they mean.
template <typename W>
inline __attribute__((always_inline)) void unshuffleRows(const Part<W>* parts, size_t part_count, W* dst,
                                                         int64_t begin, int64_t end, int64_t factor, int64_t out_h,
                                                         int64_t out_w, int64_t out_channels) {
  const int64_t in_w = out_w * factor, in_h = out_h * factor, f2 = factor * factor;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t image = row / out_h, y = row % out_h;
    W* d_row = dst + row * out_w * out_channels;
    int64_t base = 0;
    for (size_t p = 0; p < part_count; ++p) {
      const int64_t c = parts[p].channels;
      const W* src = parts[p].data + image * in_h * in_w * c;
      for (int64_t i = 0; i < factor; ++i) {
        const W* s_row = src + (y * factor + i) * in_w * c;
        W* d = d_row + base * f2 + i * factor;
        if (factor == kGeneratorFactor && c == kMaskChannels)
          unshufflePartRow<W, kGeneratorFactor, kMaskChannels>(s_row, d, out_w, out_channels, factor, c);
        else if (factor == kGeneratorFactor && c == kImageChannels)
          unshufflePartRow<W, kGeneratorFactor, kImageChannels>(s_row, d, out_w, out_channels, factor, c);
        else
          unshufflePartRow<W, 0, 0>(s_row, d, out_w, out_channels, factor, c);
      }
      base += c;
    }
  }
}

// Cloned per instruction set (simd_clones.h).
#define DERAIN_UNSHUFFLE_ROWS(W)                                                                                     \
  DERAIN_SIMD_CLONES void unshuffleRowsClone(const Part<W>* parts, size_t part_count, W* dst, int64_t begin,         \
                                             int64_t end, int64_t factor, int64_t out_h, int64_t out_w,              \
                                             int64_t out_channels) {                                                 \
    unshuffleRows(parts, part_count, dst, begin, end, factor, out_h, out_w, out_channels);                           \
  }
DERAIN_UNSHUFFLE_ROWS(uint16_t)
DERAIN_UNSHUFFLE_ROWS(uint32_t)
#undef DERAIN_UNSHUFFLE_ROWS

template <typename W>
void unshuffleInto(c10::ArrayRef<at::Tensor> parts, int64_t factor, at::Tensor& out) {
  // Read once: the tensors' accessors are not free.
  std::vector<Part<W>> sources;
  for (const auto& p : parts) sources.push_back({static_cast<const W*>(p.data_ptr()), p.size(1)});
  W* dst = static_cast<W*>(out.data_ptr());
  const int64_t out_h = out.size(2), out_w = out.size(3), out_channels = out.size(1);
  parallelFor(0, out.size(0) * out_h, 8, [&](int64_t begin, int64_t end) {
    unshuffleRowsClone(sources.data(), sources.size(), dst, begin, end, factor, out_h, out_w, out_channels);
  });
}
}  // namespace

at::Tensor catUnshuffled(c10::ArrayRef<at::Tensor> parts, int64_t factor) {
  const auto& first = parts.front();
  const size_t element = first.defined() ? first.element_size() : 0;
  if (factor < 1 || !denseChannelsLastLike(parts) || (element != 2 && element != 4) || first.size(2) % factor != 0 ||
      first.size(3) % factor != 0)
    return torch::pixel_unshuffle(catChannels(parts), factor);
  int64_t channels = 0;
  for (const auto& p : parts) channels += p.size(1);
  auto out = torch::empty({first.size(0), channels * factor * factor, first.size(2) / factor, first.size(3) / factor},
                          first.options().memory_format(at::MemoryFormat::ChannelsLast));
  if (element == 2)
    unshuffleInto<uint16_t>(parts, factor, out);
  else
    unshuffleInto<uint32_t>(parts, factor, out);
  return out;
}

at::Tensor catChannels(c10::ArrayRef<at::Tensor> parts) {
  const auto& first = parts.front();
  if (first.dim() != 4 || !first.is_contiguous(at::MemoryFormat::ChannelsLast)) return torch::cat(parts, 1);
  for (const auto& p : parts)  // autograd: the differentiable way (copies into slices would work, slower)
    if (p.requires_grad()) return torch::cat(parts, 1).contiguous(at::MemoryFormat::ChannelsLast);
  int64_t channels = 0;
  for (const auto& p : parts) channels += p.size(1);
  const bool plain = denseChannelsLastLike(parts);
  auto out = torch::empty({first.size(0), channels, first.size(2), first.size(3)},
                          first.options().memory_format(at::MemoryFormat::ChannelsLast));
  if (!plain) {
    int64_t offset = 0;
    for (const auto& p : parts) {
      out.narrow(1, offset, p.size(1)).copy_(p);
      offset += p.size(1);
    }
    return out;
  }
  // Pixel by pixel, each part's channels copied whole (LibTorch copies each part into a strided
  // channel slice of the result).
  const int64_t pixels = first.size(0) * first.size(2) * first.size(3);
  const size_t element = first.element_size();
  std::vector<std::pair<const char*, size_t>> sources;  // data, bytes per pixel
  for (const auto& p : parts) sources.emplace_back(static_cast<const char*>(p.data_ptr()), p.size(1) * element);
  char* dst = static_cast<char*>(out.data_ptr());
  const size_t out_pixel = channels * element;
  parallelFor(0, pixels, kPixelsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      char* d = dst + i * out_pixel;
      for (const auto& [data, bytes] : sources) {
        std::memcpy(d, data + i * bytes, bytes);
        d += bytes;
      }
    }
  });
  return out;
}

void copyChannelsInto(const at::Tensor& part, const at::Tensor& out, int64_t offset) {
  const bool plain = denseChannelsLastLike({part, out}) && offset >= 0 && offset + part.size(1) <= out.size(1);
  if (!plain) {
    out.narrow(1, offset, part.size(1)).copy_(part);
    return;
  }
  const int64_t element = part.element_size();
  const int64_t bytes = part.size(1) * element, out_pixel = out.size(1) * element;
  const char* src = static_cast<const char*>(part.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr()) + offset * element;
  parallelFor(0, part.size(0) * part.size(2) * part.size(3), kPixelsPerTask, [&](int64_t begin, int64_t end) {
    copyPixels(src + begin * bytes, bytes, dst + begin * out_pixel, out_pixel, bytes, end - begin);
  });
}

}  // namespace derain::detail
