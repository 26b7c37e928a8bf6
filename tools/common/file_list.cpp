#include "file_list.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "derain/error.hpp"
#include "image_files.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kImageExtensions{".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"};

std::vector<std::string> listWithExtensions(const std::string& dir, const std::vector<std::string>& extensions) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("'" + dir + "' is not a folder (or does not exist)");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end())
      files.push_back(entry.path().string());
  }
  if (ec) throw Error("cannot list folder '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}
}  // namespace

std::vector<std::string> listImages(const std::string& dir) { return listWithExtensions(dir, kImageExtensions); }

std::vector<std::string> listImagesAndVideos(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    if (!isVideoPath(path)) throw Error("'" + path + "' is neither a folder nor a video file");
    return {path};
  }
  std::vector<std::string> extensions = kImageExtensions;
  extensions.insert(extensions.end(), kVideoExtensions.begin(), kVideoExtensions.end());
  return listWithExtensions(path, extensions);
}

}  // namespace derain::cli
