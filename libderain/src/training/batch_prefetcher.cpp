#include "training/batch_prefetcher.h"

#include <algorithm>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
// Everything here uses OpenCV only: LibTorch ops would start OpenMP teams from the loader threads
// and fight the training step.

// The crop of `spec`, flipped when planned (8-bit RGB).
cv::Mat cropOf(const cv::Mat& rgb, const CropSpec& spec, int crop) {
  cv::Mat patch = rgb(cv::Rect(spec.x, spec.y, crop, crop)), flipped;
  if (!spec.flip) return patch;
  cv::flip(patch, flipped, 1);
  return flipped;
}

// Writes an 8-bit crop into `out` (3 x crop x crop float, [-1, 1]).
void writeScaled(const cv::Mat& patch, float* out) {
  cv::Mat scaled;
  patch.convertTo(scaled, CV_32FC3, 1.0 / 127.5, -1.0);
  std::vector<cv::Mat> planes;
  const size_t plane = static_cast<size_t>(patch.rows) * patch.cols;
  for (int c = 0; c < 3; ++c) planes.emplace_back(patch.rows, patch.cols, CV_32FC1, out + c * plane);
  cv::split(scaled, planes);  // writes into the tensor's memory, planes keep their data pointers
}

at::Tensor emptyBatch(size_t count, int crop) {
  return torch::empty({static_cast<int64_t>(count), 3, crop, crop}, torch::kFloat32);
}
}  // namespace

TrainingBatch loadBatch(const BatchPlan& plan, int64_t iteration, int crop, const ImageDomain& rainy,
                        const ImageDomain& clean, const ImagePairs* pairs) {
  const size_t image = 3 * static_cast<size_t>(crop) * crop;
  TrainingBatch batch{iteration, emptyBatch(plan.rainy.size(), crop), emptyBatch(plan.clean.size(), crop), {}, {}};
  for (size_t i = 0; i < plan.rainy.size(); ++i)
    writeScaled(cropOf(rainy.load(plan.rainy[i].index), plan.rainy[i], crop), batch.rainy.data_ptr<float>() + i * image);
  // With synthetic rain, each clean crop is also rained (in 8 bits, like derain-synth's files): one
  // load and crop serve both tensors.
  const bool rained = !plan.synthetic_rain.empty();
  if (rained) batch.synthetic = emptyBatch(plan.clean.size(), crop);
  for (size_t i = 0; i < plan.clean.size(); ++i) {
    const cv::Mat patch = cropOf(clean.load(plan.clean[i].index), plan.clean[i], crop);
    writeScaled(patch, batch.clean.data_ptr<float>() + i * image);
    if (!rained) continue;
    cv::Mat with_rain;
    addRain(patch, with_rain, plan.synthetic_rain.at(i));
    writeScaled(with_rain, batch.synthetic.data_ptr<float>() + i * image);
  }
  if (plan.pairs.empty()) return batch;
  if (!pairs) throw Error("batch loader: the plan has pair crops but no pairs were given");
  // One crop spec for both images: the same window and flip.
  batch.synthetic = emptyBatch(plan.pairs.size(), crop);
  batch.synthetic_clean = emptyBatch(plan.pairs.size(), crop);
  for (size_t i = 0; i < plan.pairs.size(); ++i) {
    const auto [with_rain, without] = pairs->load(plan.pairs[i].index);
    writeScaled(cropOf(with_rain, plan.pairs[i], crop), batch.synthetic.data_ptr<float>() + i * image);
    writeScaled(cropOf(without, plan.pairs[i], crop), batch.synthetic_clean.data_ptr<float>() + i * image);
  }
  return batch;
}

BatchPrefetcher::BatchPrefetcher(const ImageDomain& rainy, const ImageDomain& clean, uint64_t seed, int batch,
                                 int crop, int64_t first, int64_t end, int threads, int depth,
                                 std::optional<RainParamRanges> synthetic_rain, int rank, int world_size,
                                 const ImagePairs* pairs)
    : rainy_(rainy), clean_(clean), seed_(seed), batch_(batch), crop_(crop), rank_(rank), world_size_(world_size),
      synthetic_rain_(std::move(synthetic_rain)), pairs_(pairs), end_(end),
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
      made = loadBatch(planShard(seed_, iteration, batch_, rank_, world_size_, crop_, rainy_, clean_, rain, pairs_),
                       iteration, crop_, rainy_, clean_, pairs_);
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
