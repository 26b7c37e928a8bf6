// Which images, crops and flips each training iteration uses. A pure function of (seed, iteration)
// and the domains' image sizes, so a resumed run sees exactly the batches of an uninterrupted one,
// whatever the loader threads do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "derain/rain.hpp"
#include "training/image_domain.h"
#include "training/image_pairs.h"

namespace derain::detail {

struct CropSpec {
  size_t index = 0;   // image of the domain
  int x = 0, y = 0;   // top-left corner of the crop
  bool flip = false;  // horizontal flip after cropping
};

struct BatchPlan {
  std::vector<CropSpec> rainy, clean;
  std::vector<RainParams> synthetic_rain;  // per clean crop, when the synthetic loss is on; else empty
  std::vector<CropSpec> pairs;  // per sample, a crop of a pair from disk (both images alike); else empty
};

// Unpaired sampling: an epoch is one pass over the larger domain in a per-epoch shuffled order; the
// smaller domain is drawn uniformly at random (with replacement) for each sample. Crops are uniform
// over the valid positions; flips have probability 1/2. With `synthetic_rain`, each clean crop also
// gets rain parameters drawn from it (from a stream of its own: the crops do not change). With `pairs`,
// each sample also gets a pair drawn uniformly at random (with replacement) and one crop and flip for
// both of its images, again from a stream of its own.
BatchPlan planBatch(uint64_t seed, int64_t iteration, int batch, int crop, const ImageDomain& rainy,
                    const ImageDomain& clean, const RainParamRanges* synthetic_rain = nullptr,
                    const ImagePairs* pairs = nullptr);

// Data-parallel shard: rank `rank` of `world_size` gets samples [rank * batch, (rank + 1) * batch)
// of the global batch of batch * world_size samples, i.e. of planBatch(seed, iteration,
// batch * world_size, ...). The ranks together see exactly what one process with the global batch
// sees, so each image of the larger domain is used once per epoch across all ranks (the smaller
// domain is drawn with replacement, as in one process). world_size 1 is planBatch itself.
BatchPlan planShard(uint64_t seed, int64_t iteration, int batch, int rank, int world_size, int crop,
                    const ImageDomain& rainy, const ImageDomain& clean,
                    const RainParamRanges* synthetic_rain = nullptr, const ImagePairs* pairs = nullptr);

// Iterations of one epoch: ceil(max(|rainy|, |clean|) / batch).
int64_t iterationsPerEpoch(size_t rainy_images, size_t clean_images, int batch);

}  // namespace derain::detail
