// Gradient averaging across data-parallel ranks that overlaps the backward pass: each bucket of
// gradients is all-reduced as soon as backward has produced all of it, while backward goes on with
// the layers before (the idea of torch DDP's Reducer; LibTorch 1.13's Reducer is machinery of the
// Python DDP module, so this is the same idea over the process group, which distributed.cpp supplies
// as Comm). Torch-light: no c10d here.
#pragma once

#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace derain::detail {

// Buckets of about bucket_bytes in the reverse of the parameters' order (the order backward reaches
// them). A hook on each parameter (autograd runs it once per backward pass, with the parameter's whole
// gradient) copies the gradient into its bucket; a bucket whose gradients have all arrived is started
// at once. The mean is the all-reduce's sum / world_size.
class OverlappedAverager {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;  // torch DDP's default
  struct Comm {
    // Starts the sum over the ranks of `flat` in place; returns the wait for it.
    std::function<std::function<void()>(at::Tensor& flat)> start;
    std::function<at::Tensor(const at::Tensor&)> to_comm;  // where the collective wants its tensors
    int world_size = 1;
  };

  OverlappedAverager(std::vector<at::Tensor> params, Comm comm, int64_t bucket_bytes = kDefaultBucketBytes);
  ~OverlappedAverager();
  OverlappedAverager(const OverlappedAverager&) = delete;  // the hooks hold `this`
  OverlappedAverager& operator=(const OverlappedAverager&) = delete;
  // Before a backward pass over the parameters the averager was made for.
  void arm();
  // After it: starts what has not started (a parameter without a gradient counts as zeros), waits
  // for every bucket, and leaves the mean over the ranks in each parameter's grad.
  void finish();
  size_t buckets() const { return buckets_.size(); }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0, numel = 0;
    bool arrived = false;
  };
  struct Bucket {
    at::ScalarType dtype;
    std::vector<size_t> params;
    int64_t numel = 0, bytes = 0;
    at::Tensor flat;
    size_t arrived = 0;
    std::function<void()> wait;  // set once started
  };
  void arrived(size_t k, const at::Tensor& grad);
  void start(Bucket& b);

  std::vector<at::Tensor> params_;
  Comm comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  bool armed_ = false;
};

}  // namespace derain::detail
