#include "derain/process.hpp"

#include <malloc.h>

#include <mutex>

namespace derain {

void keepFreedBuffersForReuse() {
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kMmapThreshold = 512 << 20;  // buffers below 512 MB come from the reusable heap
    constexpr int kTrimThreshold = 1 << 30;    // keep up to 1 GB of free heap instead of trimming
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  });
}

}  // namespace derain
