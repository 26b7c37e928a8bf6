#include "training/image_pairs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "derain/error.hpp"

namespace fs = std::filesystem;

namespace derain::detail {

namespace {
// Files of one side, by name without the extension (the key that pairs them).
std::map<std::string, std::string> filesByStem(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error("pairs folder '" + folder.string() + "' does not exist (needs rainy/ and clean/ subfolders)");
  std::map<std::string, std::string> files;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !fs::is_regular_file(it->path())) continue;  // follows links
    const std::string stem = it->path().stem().string();
    if (auto [at, added] = files.emplace(stem, it->path().string()); !added)
      throw Error("pairs: '" + std::min(at->second, it->path().string()) + "' and '" +
                  std::max(at->second, it->path().string()) + "' have the same name; which one is the pair is unclear");
  }
  if (ec) throw Error("cannot list the pairs folder '" + folder.string() + "': " + ec.message());
  return files;
}

// The two sides' files in name order, index i of each being one pair.
std::pair<std::vector<std::string>, std::vector<std::string>> pairedFiles(const std::string& dir) {
  const auto rainy = filesByStem(fs::path(dir) / "rainy");
  const auto clean = filesByStem(fs::path(dir) / "clean");
  std::pair<std::vector<std::string>, std::vector<std::string>> out;
  for (const auto& [stem, path] : rainy) {
    auto partner = clean.find(stem);
    if (partner == clean.end())
      throw Error("pairs: '" + path + "' has no clean partner (" + (fs::path(dir) / "clean" / stem).string() + ".*)");
    out.first.push_back(path);
    out.second.push_back(partner->second);
  }
  for (const auto& [stem, path] : clean)
    if (!rainy.count(stem))
      throw Error("pairs: '" + path + "' has no rainy partner (" + (fs::path(dir) / "rainy" / stem).string() + ".*)");
  if (out.first.empty()) throw Error("pairs folder '" + dir + "' holds no pair (rainy/ and clean/ are empty)");
  return out;
}

// ImageDomain skips what it cannot use with a warning; for pairs the first such warning is the error.
ImageDomain strictDomain(const std::string& name, const std::vector<std::string>& files, int min_side, int threads,
                         size_t cache_bytes) {
  std::string problem;
  auto fail = [&] {  // ImageDomain's warning, without its "... skipping " lead-in when it has one
    const size_t lead = problem.find("skipping ");
    throw Error("pairs: " + (lead == std::string::npos ? problem : problem.substr(lead + 9)));
  };
  std::optional<ImageDomain> domain;
  try {
    domain.emplace(name, files, min_side, threads, [&](const std::string& w) { if (problem.empty()) problem = w; },
                   cache_bytes);
  } catch (const Error&) {
    if (problem.empty()) throw;
    fail();  // nothing usable: the file's own problem says more than "no usable images"
  }
  if (!problem.empty()) fail();
  // A video gives frames labelled "file#frame=N": no one image to pair with its partner.
  for (size_t i = 0; i < files.size(); ++i)
    if (i >= domain->size() || domain->path(i) != files[i])
      throw Error("pairs: '" + files[std::min(i, files.size() - 1)] + "' is a video, not an image");
  return std::move(*domain);
}
}  // namespace

ImagePairs::ImagePairs(const std::string& dir, int min_side, int threads, size_t cache_bytes)
    : ImagePairs(pairedFiles(dir), min_side, threads, cache_bytes) {}

ImagePairs::ImagePairs(const std::pair<std::vector<std::string>, std::vector<std::string>>& files,
                       int min_side, int threads, size_t cache_bytes)
    : rainy_(strictDomain("rainy", files.first, min_side, threads, cache_bytes)),
      clean_(strictDomain("clean", files.second, min_side, threads, cache_bytes)) {
  for (size_t i = 0; i < size(); ++i) {
    const cv::Size r = rainy_.imageSize(i), c = clean_.imageSize(i);
    if (r != c)
      throw Error("pairs: '" + rainy_.path(i) + "' is " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                  " but its partner '" + clean_.path(i) + "' is " + std::to_string(c.width) + "x" +
                  std::to_string(c.height));
  }
}

}  // namespace derain::detail
