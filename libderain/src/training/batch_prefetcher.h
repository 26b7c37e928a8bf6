// Loads the batches of upcoming iterations in background threads (decode, crop, flip, to tensor)
// while the current one trains. Batches come out in iteration order; their content depends only on
// the batch plan, never on which thread made them or when.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "training/batch_plan.h"
#include "training/image_domain.h"

namespace derain::detail {

struct TrainingBatch {
  int64_t iteration = 0;
  at::Tensor rainy;  // B x 3 x crop x crop, float32 RGB in [-1, 1], CPU
  at::Tensor clean;
  // The synthetic-pair term's input: the clean crops with the plan's procedural rain, or the rainy
  // crops of pairs from disk; undefined when the term is off.
  at::Tensor synthetic;
  at::Tensor synthetic_clean;  // pairs from disk: the clean crops of those pairs; else undefined
};

// Builds one batch synchronously (what the prefetcher's threads run). `pairs`: needed when the plan
// has pair crops.
TrainingBatch loadBatch(const BatchPlan& plan, int64_t iteration, int crop, const ImageDomain& rainy,
                        const ImageDomain& clean, const ImagePairs* pairs = nullptr);

class BatchPrefetcher {
 public:
  // Produces iterations [first, end) with `threads` threads, at most `depth` batches ahead of the
  // consumer. The domains must outlive the prefetcher. With `synthetic_rain`, batches also carry
  // rained copies of their clean crops; with `pairs` (which must outlive it too), crops of pairs from
  // disk instead. rank / world_size > 1: this rank's shard (planShard).
  BatchPrefetcher(const ImageDomain& rainy, const ImageDomain& clean, uint64_t seed, int batch, int crop,
                  int64_t first, int64_t end, int threads, int depth,
                  std::optional<RainParamRanges> synthetic_rain = std::nullopt, int rank = 0, int world_size = 1,
                  const ImagePairs* pairs = nullptr);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The batch of the next iteration; blocks until it is ready. Rethrows a loader thread's error.
  TrainingBatch next();

 private:
  void work();

  const ImageDomain& rainy_;
  const ImageDomain& clean_;
  uint64_t seed_;
  int batch_, crop_;
  int rank_, world_size_;
  std::optional<RainParamRanges> synthetic_rain_;
  const ImagePairs* pairs_;
  int64_t end_, depth_;
  int64_t next_to_claim_;   // next iteration a worker starts on
  int64_t next_to_return_;  // next iteration next() hands out
  std::map<int64_t, TrainingBatch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
};

}  // namespace derain::detail
