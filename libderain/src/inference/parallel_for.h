// Splits [begin, end) over LibTorch's intra-op threads (libgomp's pool) for code built without
// -fopenmp: there at::parallel_for runs serially, its `#pragma omp parallel` being compiled out of the
// header, and it did, unnoticed, for the image <-> tensor conversions, the concatenations and the grey
// rain layer. Built with -fopenmp in its own archive (libderain/meson.build). Torch-free.
#pragma once

#include <cstdint>
#include <functional>

namespace derain::detail {

// Calls body(chunk_begin, chunk_end) over consecutive chunks of at least `grain` items (the last may
// be shorter) on up to omp_get_max_threads() threads (LibTorch's at::set_num_threads sets it), and
// inline, in one call, inside a parallel region or when one chunk covers the range. Blocks until done;
// body must not throw.
void parallelFor(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace derain::detail
