#include "training/lr_schedule.h"

#include <cmath>

namespace derain::detail {

double learningRateAt(int64_t iteration, int64_t total, double base_lr, double decay_start) {
  const int64_t decay_begin = static_cast<int64_t>(std::floor(decay_start * static_cast<double>(total)));
  if (iteration < decay_begin || total <= decay_begin) return base_lr;
  if (iteration >= total) return 0.0;
  return base_lr * static_cast<double>(total - iteration) / static_cast<double>(total - decay_begin);
}

}  // namespace derain::detail
