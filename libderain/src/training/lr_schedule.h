// Learning-rate schedule of the paper: constant, then linear decay towards 0.
#pragma once

#include <cstdint>

namespace derain::detail {

// lr of 0-based `iteration` of a `total`-iteration run: `base_lr` for the first
// floor(decay_start * total) iterations, then base_lr * (total - iteration) / (total - decay_begin),
// so the last iteration runs at base_lr / (total - decay_begin) and the next would be at 0.
double learningRateAt(int64_t iteration, int64_t total, double base_lr, double decay_start);

}  // namespace derain::detail
