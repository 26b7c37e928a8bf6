// Paired training data for the synthetic-pair term, read from disk instead of drawn procedurally:
// DIR/rainy/NAME and DIR/clean/NAME show one scene with and without rain (rain made by a model's G_R,
// another renderer, or a paired dataset). Unlike the unpaired folders, nothing is skipped: a pair
// that cannot be used would silently change what the term learns, so it is an error naming the file.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "training/image_domain.h"

namespace derain::detail {

class ImagePairs {
 public:
  // Pairs every file of DIR/rainy with the file of DIR/clean of the same name; the extension may
  // differ (rain.png with rain.jpg). Hidden files are ignored. Throws derain::Error naming the folder
  // or file for: a missing subfolder, a file without its partner (either side), two files of one
  // side with the same name but for the extension, a file that is not an image (videos included),
  // a pair whose two sizes differ, an image smaller than `min_side`, or no pair at all.
  ImagePairs(const std::string& dir, int min_side, int threads, size_t cache_bytes = kDefaultImageCacheBytes);

  size_t size() const { return rainy_.size(); }
  cv::Size imageSize(size_t index) const { return rainy_.imageSize(index); }
  const std::string& rainyPath(size_t index) const { return rainy_.path(index); }
  const std::string& cleanPath(size_t index) const { return clean_.path(index); }
  // Both images of the pair as 8-bit RGB (ImageDomain::load's rules: thread-safe, cached).
  std::pair<cv::Mat, cv::Mat> load(size_t index) const { return {rainy_.load(index), clean_.load(index)}; }

 private:
  ImagePairs(const std::pair<std::vector<std::string>, std::vector<std::string>>& files, int min_side, int threads, size_t cache_bytes);
  ImageDomain rainy_, clean_;  // index i of each is one pair
};

}  // namespace derain::detail
