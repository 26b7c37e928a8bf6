// One side of the unpaired training data (the rainy or the clean images): the usable images of a
// folder, checked once up front so that bad files are reported early and the batch plan only ever
// names readable images. Video files count too: a camera owner trains from rainy and dry recordings
// of the same camera. Each clip contributes up to kFramesPerClip frames spread evenly over it.
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
// Frames sampled from one video file (evenly over the clip; all of them when it is shorter).
constexpr int kFramesPerClip = 32;

class ImageDomain {
 public:
  // Decodes every file of `files` with `threads` threads; a file that is no image but a video that
  // OpenCV can read gives its sampled frames. A file that cannot be decoded as either, or whose
  // width or height is below `min_side`, is skipped with a warning through `warn` and counted.
  // Throws derain::Error naming the domain if no file is usable.
  ImageDomain(std::string name, const std::vector<std::string>& files, int min_side, int threads,
              const WarningSink& warn, size_t cache_bytes = kDefaultImageCacheBytes);

  const std::string& name() const { return name_; }
  size_t size() const { return entries_.size(); }
  int skipped() const { return skipped_; }
  // "photo.jpg", or "clip.mp4#frame=120" for a video frame.
  const std::string& path(size_t index) const { return entries_.at(index).label; }
  cv::Size imageSize(size_t index) const { return entries_.at(index).size; }

  // The image as 8-bit RGB. Thread-safe. Throws derain::Error if a file that passed the scan can no
  // longer be read or has changed size.
  cv::Mat load(size_t index) const;

 private:
  struct Entry {
    std::string path;
    int frame = -1;     // frame index in a video file; -1 for an image file
    std::string label;  // path, with "#frame=N" for a video frame
    cv::Size size;
    cv::Mat cached;  // empty when over the cache budget
  };
  std::string name_;
  std::vector<Entry> entries_;
  int skipped_ = 0;
};

// Reads an image file as 8-bit RGB; an empty Mat if OpenCV cannot decode it.
cv::Mat readImageRGB(const std::string& path);

// Up to `count` frames spread evenly over a video file (read in order, so formats that cannot seek
// work too), as 8-bit RGB, with their frame indices. Empty when OpenCV cannot read it as a video.
std::vector<std::pair<int, cv::Mat>> sampleVideoFramesRGB(const std::string& path, int count);

}  // namespace derain::detail
