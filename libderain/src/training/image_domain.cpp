#include "training/image_domain.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "derain/error.hpp"

namespace derain::detail {

cv::Mat readImageRGB(const std::string& path) {
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    return {};  // some decoders throw on corrupt data instead of returning an empty Mat
  }
  if (bgr.empty()) return {};
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

std::vector<std::pair<int, cv::Mat>> sampleVideoFramesRGB(const std::string& path, int count) {
  std::vector<std::pair<int, cv::Mat>> frames;
  try {
    cv::VideoCapture capture(path);
    if (!capture.isOpened()) return frames;
    // The container's frame count chooses the spacing; decoding in order finds the real end.
    const double reported = capture.get(cv::CAP_PROP_FRAME_COUNT);
    const int step = reported > count ? static_cast<int>(reported / count) : 1;
    cv::Mat bgr;
    for (int index = 0; static_cast<int>(frames.size()) < count && capture.read(bgr); ++index) {
      if (index % step != 0 || bgr.empty()) continue;
      cv::Mat rgb;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      frames.emplace_back(index, rgb);
    }
  } catch (const cv::Exception&) {
    frames.clear();  // a backend that throws on a corrupt stream: not a usable video
  }
  return frames;
}

namespace {
// One frame of a video file as 8-bit RGB, decoding in order up to it; empty if it cannot be read.
cv::Mat readVideoFrameRGB(const std::string& path, int frame) {
  try {
    cv::VideoCapture capture(path);
    cv::Mat bgr;
    for (int index = 0; index <= frame; ++index)
      if (!capture.read(bgr)) return {};
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
  } catch (const cv::Exception&) {
    return {};
  }
}

std::string frameLabel(const std::string& path, int frame) {
  return frame < 0 ? path : path + "#frame=" + std::to_string(frame);
}
}  // namespace

ImageDomain::ImageDomain(std::string name, const std::vector<std::string>& files, int min_side, int threads,
                         const WarningSink& warn, size_t cache_bytes)
    : name_(std::move(name)) {
  struct Probe {
    cv::Mat image;                                // an image file
    std::vector<std::pair<int, cv::Size>> frames;  // a video file: sampled frame indices and sizes
    std::string problem;
  };
  std::vector<Probe> probes(files.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      Probe& p = probes[i];
      p.image = readImageRGB(files[i]);
      if (p.image.empty()) {
        // Not an image: a video? Only frame indices and sizes are kept here, so a folder of long
        // clips costs no memory until the caching pass below.
        for (const auto& [frame, image] : sampleVideoFramesRGB(files[i], kFramesPerClip))
          p.frames.emplace_back(frame, image.size());
      }
      if (p.image.empty() && p.frames.empty()) {
        p.problem = "cannot be read as an image or a video";
        continue;
      }
      const cv::Size size = p.image.empty() ? p.frames.front().second : p.image.size();
      if (size.width < min_side || size.height < min_side) {
        p.problem = "is " + std::to_string(size.width) + "x" + std::to_string(size.height) + ", smaller than the " +
                    std::to_string(min_side) + "x" + std::to_string(min_side) + " crop";
        p.image.release();
        p.frames.clear();
      }
    }
  };
  std::vector<std::thread> pool;
  const int count = std::max(1, std::min<int>(threads, static_cast<int>(files.size())));
  for (int t = 0; t < count; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  // Reporting and caching in file order keeps both independent of thread timing.
  size_t cached_bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    Probe& p = probes[i];
    if (!p.problem.empty()) {
      ++skipped_;
      if (warn) warn("warning: skipping " + name_ + " image '" + files[i] + "': it " + p.problem);
      continue;
    }
    if (!p.image.empty()) {
      Entry e{files[i], -1, files[i], p.image.size(), {}};
      const size_t bytes = p.image.total() * p.image.elemSize();
      if (cached_bytes + bytes <= cache_bytes) {
        e.cached = p.image;
        cached_bytes += bytes;
      }
      entries_.push_back(std::move(e));
      continue;
    }
    const size_t first = entries_.size();
    size_t clip_bytes = 0;
    for (const auto& [frame, size] : p.frames) {
      entries_.push_back(Entry{files[i], frame, frameLabel(files[i], frame), size, {}});
      clip_bytes += static_cast<size_t>(size.area()) * 3;
    }
    if (cached_bytes + clip_bytes <= cache_bytes) {  // decoded again, in order, only when kept
      const auto decoded = sampleVideoFramesRGB(files[i], kFramesPerClip);
      for (size_t k = 0; k < decoded.size() && k < p.frames.size(); ++k)
        if (decoded[k].first == p.frames[k].first && decoded[k].second.size() == p.frames[k].second)
          entries_[first + k].cached = decoded[k].second;
      cached_bytes += clip_bytes;
    }
  }
  if (entries_.empty())
    throw Error("no usable " + name_ + " images (" + std::to_string(files.size()) + " files, " +
                std::to_string(skipped_) + " skipped)");
}

cv::Mat ImageDomain::load(size_t index) const {
  const Entry& e = entries_.at(index);
  if (!e.cached.empty()) return e.cached;
  cv::Mat image = e.frame < 0 ? readImageRGB(e.path) : readVideoFrameRGB(e.path, e.frame);
  if (image.empty()) throw Error(name_ + " image '" + e.label + "' can no longer be read");
  if (image.size() != e.size) throw Error(name_ + " image '" + e.label + "' changed size during training");
  return image;
}

}  // namespace derain::detail
