#include "training/batch_prefetcher.h"

#include <algorithm>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
// Crops, flips and writes one image into `out` (3 x crop x crop float, [-1, 1]) with OpenCV only:
// LibTorch ops here would start OpenMP teams from the loader threads and fight the training step.
// With `rain`, procedural rain is drawn over the (flipped) crop first, in 8 bits like derain-synth's files.
void cropInto(const cv::Mat& rgb, const CropSpec& spec, int crop, float* out, const RainParams* rain = nullptr) {
  cv::Mat patch = rgb(cv::Rect(spec.x, spec.y, crop, crop)), flipped, rained, scaled;
  if (spec.flip) {
    cv::flip(patch, flipped, 1);
    patch = flipped;
  }
  if (rain) {
    addRain(patch, rained, *rain);
    patch = rained;
  }
  patch.convertTo(scaled, CV_32FC3, 1.0 / 127.5, -1.0);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 3; ++c) planes.emplace_back(crop, crop, CV_32FC1, out + static_cast<size_t>(c) * crop * crop);
  cv::split(scaled, planes);  // writes into the tensor's memory, planes keep their data pointers
}

at::Tensor loadDomain(const std::vector<CropSpec>& specs, const ImageDomain& domain, int crop,
                      const std::vector<RainParams>* rain = nullptr) {
  auto t = torch::empty({static_cast<int64_t>(specs.size()), 3, crop, crop}, torch::kFloat32);
  for (size_t i = 0; i < specs.size(); ++i)
    cropInto(domain.load(specs[i].index), specs[i], crop, t.data_ptr<float>() + i * 3 * crop * crop,
             rain ? &rain->at(i) : nullptr);
  return t;
}
}  // namespace

TrainingBatch loadBatch(const BatchPlan& plan, int64_t iteration, int crop, const ImageDomain& rainy,
                        const ImageDomain& clean) {
  TrainingBatch batch{iteration, loadDomain(plan.rainy, rainy, crop), loadDomain(plan.clean, clean, crop), {}};
  if (!plan.synthetic_rain.empty()) batch.synthetic = loadDomain(plan.clean, clean, crop, &plan.synthetic_rain);
  return batch;
}

BatchPrefetcher::BatchPrefetcher(const ImageDomain& rainy, const ImageDomain& clean, uint64_t seed, int batch,
                                 int crop, int64_t first, int64_t end, int threads, int depth,
                                 std::optional<RainParamRanges> synthetic_rain)
    : rainy_(rainy), clean_(clean), seed_(seed), batch_(batch), crop_(crop), synthetic_rain_(std::move(synthetic_rain)), end_(end),
      depth_(std::max(1, depth)), next_to_claim_(first), next_to_return_(first) {
  for (int t = 0; t < std::max(1, threads); ++t) threads_.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void BatchPrefetcher::work() {
  for (;;) {
    int64_t iteration;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || (next_to_claim_ < end_ && next_to_claim_ < next_to_return_ + depth_);
      });
      if (stopping_) return;
      iteration = next_to_claim_++;
    }
    TrainingBatch made;
    std::exception_ptr error;
    try {
      const RainParamRanges* rain = synthetic_rain_ ? &*synthetic_rain_ : nullptr;
      made = loadBatch(planBatch(seed_, iteration, batch_, crop_, rainy_, clean_, rain), iteration, crop_, rainy_, clean_);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error)
        failed_[iteration] = error;
      else
        ready_[iteration] = std::move(made);
    }
    changed_.notify_all();
  }
}

TrainingBatch BatchPrefetcher::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_return_ >= end_) throw Error("batch prefetcher: no iterations left");
  const int64_t wanted = next_to_return_;
  changed_.wait(lock, [&] { return ready_.count(wanted) || failed_.count(wanted); });
  if (auto f = failed_.find(wanted); f != failed_.end()) std::rethrow_exception(f->second);
  TrainingBatch batch = std::move(ready_[wanted]);
  ready_.erase(wanted);
  ++next_to_return_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

}  // namespace derain::detail
