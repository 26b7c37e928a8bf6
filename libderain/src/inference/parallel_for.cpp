// Built with -fopenmp (libderain/meson.build).
#include "parallel_for.h"

#include <algorithm>

#include <omp.h>

namespace derain::detail {

void parallelFor(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (begin >= end) return;
  const int64_t range = end - begin;
  int64_t workers = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (grain > 0) workers = std::min(workers, (range + grain - 1) / grain);
  if (workers <= 1) {
    body(begin, end);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(workers))
  {
    const int64_t n = omp_get_num_threads(), k = omp_get_thread_num();
    const int64_t chunk = (range + n - 1) / n;
    const int64_t first = begin + k * chunk;
    if (first < end) body(first, std::min(end, first + chunk));
  }
}

}  // namespace derain::detail
