#include "nets/dilated_as_batch.h"

#include <cstring>

#include "parallel_for.h"

namespace derain::detail {

namespace {
constexpr int64_t kRowsPerTask = 4;
}  // namespace

void gatherSubImages(const void* src_memory, void* dst_memory, int64_t images, int64_t pixel_bytes,
                     const SubImageGrid& grid) {
  const auto* src = static_cast<const char*>(src_memory);
  auto* dst = static_cast<char*>(dst_memory);
  const int64_t d = grid.factor, sub_h = grid.subHeight(), sub_w = grid.subWidth();
  // One task per run of sub-image rows; each row's pixels come from one image row, d pixels apart.
  parallelFor(0, images * d * d * sub_h, kRowsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % sub_h, sub_image = (row / sub_h) % (d * d), image = row / (sub_h * d * d);
      const int64_t y = sub_image / d + d * i, first_x = sub_image % d;
      char* out = dst + row * sub_w * pixel_bytes;
      const char* in = src + (image * grid.height + y) * grid.width * pixel_bytes;
      for (int64_t j = 0; j < sub_w; ++j, out += pixel_bytes) {
        const int64_t x = first_x + d * j;
        if (y < grid.height && x < grid.width)
          std::memcpy(out, in + x * pixel_bytes, pixel_bytes);
        else
          std::memset(out, 0, pixel_bytes);
      }
    }
  });
}

void scatterSubImages(const void* src_memory, void* dst_memory, int64_t images, int64_t pixel_bytes,
                      const SubImageGrid& grid) {
  const auto* src = static_cast<const char*>(src_memory);
  auto* dst = static_cast<char*>(dst_memory);
  const int64_t d = grid.factor, sub_h = grid.subHeight(), sub_w = grid.subWidth();
  parallelFor(0, images * grid.height, kRowsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t image = row / grid.height, y = row % grid.height;
      const int64_t first_sub_image = image * d * d + (y % d) * d, i = y / d;
      char* out = dst + row * grid.width * pixel_bytes;
      for (int64_t x = 0; x < grid.width; ++x, out += pixel_bytes) {
        const int64_t sub_image = first_sub_image + x % d, j = x / d;
        std::memcpy(out, src + ((sub_image * sub_h + i) * sub_w + j) * pixel_bytes, pixel_bytes);
      }
    }
  });
}

}  // namespace derain::detail
