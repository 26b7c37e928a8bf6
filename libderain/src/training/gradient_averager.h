// Gradient averaging across data-parallel ranks that overlaps the backward pass: each bucket of
// gradients is all-reduced as soon as backward has produced all of it, while backward goes on with
// the layers before (the idea of torch DDP's Reducer; LibTorch 1.13's Reducer is Python-facing
// machinery, so this is the same idea over the process group). Torch-light: the implementation
// (distributed.cpp) holds the c10d types.
#pragma once

namespace derain::detail {

class GradientAverager {
 public:
  virtual ~GradientAverager() = default;
  // Before a backward pass over the parameters the averager was made for.
  virtual void arm() = 0;
  // After it: all-reduces what has not started (a parameter without a gradient counts as zeros),
  // waits for every bucket, and leaves the mean over the ranks in each parameter's grad.
  virtual void finish() = 0;
};

}  // namespace derain::detail
