#include "denormals.h"

#include <omp.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DERAIN_HAVE_MXCSR 1
#endif

namespace derain::detail {
namespace {

#ifdef DERAIN_HAVE_MXCSR
constexpr unsigned kFlushToZero = 0x8000;       // MXCSR.FTZ: denormal results become 0
constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR.DAZ: denormal inputs read as 0
constexpr unsigned kBits = kFlushToZero | kDenormalsAreZero;

// Per thread: how many scopes are open on it, and whether the outermost one set the bits (and so
// must clear them; bits the application set itself stay).
thread_local int depth = 0;
thread_local bool set_here = false;

void setOnThisThread() {
  if (depth++ > 0) return;
  const unsigned csr = _mm_getcsr();
  if ((csr & kBits) == kBits) return;
  _mm_setcsr(csr | kBits);
  set_here = true;
}

void clearOnThisThread() {
  if (depth == 0 || --depth > 0) return;
  if (set_here) _mm_setcsr(_mm_getcsr() & ~kBits);
  set_here = false;
}

// Runs f once on each thread of an OpenMP team of `threads`: LibTorch's intra-op pool is libgomp's,
// which keeps one pool per calling thread and reuses its threads for teams of the same size. (Plain
// OpenMP, not at::parallel_for: that one is serial in code not compiled with -fopenmp.)
template <typename F>
void onEachWorker(int threads, F f) {
  if (threads <= 1 || omp_in_parallel()) return;
#pragma omp parallel num_threads(threads)
  f();
}
#endif

}  // namespace

FlushDenormalsScope::FlushDenormalsScope(int threads) : threads_(threads) {
#ifdef DERAIN_HAVE_MXCSR
  // Workers first: a pool thread that libgomp creates now copies the creator's MXCSR, and must not
  // mistake bits inherited from this scope for the application's own.
  onEachWorker(threads_, setOnThisThread);
  setOnThisThread();
#endif
}

FlushDenormalsScope::~FlushDenormalsScope() {
#ifdef DERAIN_HAVE_MXCSR
  onEachWorker(threads_, clearOnThisThread);
  clearOnThisThread();
#endif
}

bool FlushDenormalsScope::active() {
#ifdef DERAIN_HAVE_MXCSR
  return (_mm_getcsr() & kBits) == kBits;
#else
  return false;
#endif
}

}  // namespace derain::detail
