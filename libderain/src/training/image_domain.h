// One side of the unpaired training data (the rainy or the clean images): the usable image files of
// a folder, checked once up front so that bad files are reported early and the batch plan only
// ever names readable images.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace derain::detail {

using WarningSink = std::function<void(const std::string&)>;

// Decoded images kept in memory up to this many bytes per domain; the rest are re-read on use.
constexpr size_t kDefaultImageCacheBytes = size_t{1} << 30;

class ImageDomain {
 public:
  // Decodes every file of `files` with `threads` threads. A file that cannot be decoded, or whose
  // width or height is below `min_side`, is skipped with a warning through `warn` and counted.
  // Throws derain::Error naming the domain if no file is usable.
  ImageDomain(std::string name, const std::vector<std::string>& files, int min_side, int threads,
              const WarningSink& warn, size_t cache_bytes = kDefaultImageCacheBytes);

  const std::string& name() const { return name_; }
  size_t size() const { return entries_.size(); }
  int skipped() const { return skipped_; }
  const std::string& path(size_t index) const { return entries_.at(index).path; }
  cv::Size imageSize(size_t index) const { return entries_.at(index).size; }

  // The image as 8-bit RGB. Thread-safe. Throws derain::Error if a file that passed the scan can no
  // longer be read or has changed size.
  cv::Mat load(size_t index) const;

 private:
  struct Entry {
    std::string path;
    cv::Size size;
    cv::Mat cached;  // empty when over the cache budget
  };
  std::string name_;
  std::vector<Entry> entries_;
  int skipped_ = 0;
};

// Reads an image file as 8-bit RGB; an empty Mat if OpenCV cannot decode it.
cv::Mat readImageRGB(const std::string& path);

}  // namespace derain::detail
