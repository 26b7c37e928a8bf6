#include "training/history_pool.h"

#include <string>

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

HistoryPool::HistoryPool(int capacity) : capacity_(capacity) {
  if (capacity < 0) throw Error("history pool: capacity must be >= 0");
}

at::Tensor HistoryPool::query(const at::Tensor& images, std::mt19937_64& rng) {
  if (capacity_ == 0) return images;
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    at::Tensor image = images.narrow(0, i, 1).detach().clone();
    if (static_cast<int>(images_.size()) < capacity_) {
      images_.push_back(image);
      out.push_back(image);
      continue;
    }
    // Draw 64-bit integers and map them ourselves: std::*_distribution output is not specified
    // across standard libraries, and a checkpoint should resume identically anywhere.
    const bool use_old = (rng() >> 63) != 0;
    if (use_old) {
      const size_t slot = static_cast<size_t>(rng() % static_cast<uint64_t>(capacity_));
      out.push_back(images_[slot]);
      images_[slot] = image;
    } else {
      out.push_back(image);
    }
  }
  return torch::cat(out, 0);
}

void HistoryPool::setImages(std::vector<at::Tensor> images) {
  if (static_cast<int>(images.size()) > capacity_)
    throw Error("history pool: " + std::to_string(images.size()) + " saved images for a pool of " +
                std::to_string(capacity_));
  images_ = std::move(images);
}

}  // namespace derain::detail
