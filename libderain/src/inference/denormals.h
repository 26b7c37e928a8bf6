// Denormal floats (|x| < 1.2e-38) cost 10-100x a normal operation on x86 CPUs, and a trained
// network's small activations and gradients produce them all the time. derain-bench, 640x360 fp32,
// 2 threads: the shipped lite model took 122.4 ms per frame with them (`ceiling 3x3 conv fp32: 383.0
// GFLOP/s` in that run) and 43.0 ms without (ceiling 370.2), an untrained one, whose values stay
// normal, 43.2 ms (ceiling 378.5). Flushing them to zero changes each
// affected value by less than 1.2e-38.
#pragma once

namespace derain::detail {

// Sets flush-to-zero and denormals-are-zero on the calling thread and on the `threads` workers of
// LibTorch's intra-op pool for the scope's lifetime, and clears them again on the threads where this
// scope set them (no lasting change to the process). Nested scopes are free. No-op off x86.
class FlushDenormalsScope {
 public:
  explicit FlushDenormalsScope(int threads);
  ~FlushDenormalsScope();
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;

  // Whether the calling thread flushes denormals now (for tests).
  static bool active();

 private:
  int threads_;
};

}  // namespace derain::detail
