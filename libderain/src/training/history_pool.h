// History pool of generated images (Shrivastava et al., as in CycleGAN): the discriminator sees a
// mix of the newest fakes and older ones, which damps oscillation between G and D.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

namespace derain::detail {

class HistoryPool {
 public:
  // capacity 0 disables the pool (query returns its input).
  explicit HistoryPool(int capacity);

  // images: B x C x H x W, detached. Per image: while the pool is filling, store it and return it;
  // once full, with probability 1/2 return a random stored image and store the new one in its place,
  // otherwise return the new image. Decisions come from `rng`, so a run is reproducible.
  at::Tensor query(const at::Tensor& images, std::mt19937_64& rng);

  int capacity() const { return capacity_; }
  const std::vector<at::Tensor>& images() const { return images_; }  // each 1 x C x H x W
  // Restores saved contents (checkpoint resume); throws derain::Error if there are too many.
  void setImages(std::vector<at::Tensor> images);

 private:
  int capacity_;
  std::vector<at::Tensor> images_;
};

}  // namespace derain::detail
