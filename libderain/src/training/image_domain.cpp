#include "training/image_domain.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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

ImageDomain::ImageDomain(std::string name, const std::vector<std::string>& files, int min_side, int threads,
                         const WarningSink& warn, size_t cache_bytes)
    : name_(std::move(name)) {
  struct Probe {
    cv::Mat image;
    std::string problem;
  };
  std::vector<Probe> probes(files.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      Probe& p = probes[i];
      p.image = readImageRGB(files[i]);
      if (p.image.empty())
        p.problem = "cannot be read as an image";
      else if (p.image.cols < min_side || p.image.rows < min_side)
        p.problem = "is " + std::to_string(p.image.cols) + "x" + std::to_string(p.image.rows) +
                    ", smaller than the " + std::to_string(min_side) + "x" + std::to_string(min_side) + " crop";
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
    Entry e{files[i], p.image.size(), {}};
    const size_t bytes = p.image.total() * p.image.elemSize();
    if (cached_bytes + bytes <= cache_bytes) {
      e.cached = p.image;
      cached_bytes += bytes;
    }
    entries_.push_back(std::move(e));
  }
  if (entries_.empty())
    throw Error("no usable " + name_ + " images (" + std::to_string(files.size()) + " files, " +
                std::to_string(skipped_) + " skipped)");
}

cv::Mat ImageDomain::load(size_t index) const {
  const Entry& e = entries_.at(index);
  if (!e.cached.empty()) return e.cached;
  cv::Mat image = readImageRGB(e.path);
  if (image.empty()) throw Error(name_ + " image '" + e.path + "' can no longer be read");
  if (image.size() != e.size) throw Error(name_ + " image '" + e.path + "' changed size during training");
  return image;
}

}  // namespace derain::detail
