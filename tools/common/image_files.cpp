#include "image_files.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "derain/error.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

void makeFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("cannot create folder '" + dir + "': " + ec.message());
}

void writeImage(const std::string& path, const cv::Mat& image) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, image);
  } catch (const cv::Exception& e) {
    throw Error("cannot write '" + path + "': " + e.what());
  }
  if (!ok) throw Error("cannot write '" + path + "' (unknown image extension or unwritable folder?)");
}

std::string lowerExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

const std::vector<std::string> kVideoExtensions{".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm",
                                               ".mpg", ".mpeg", ".wmv", ".flv", ".ts"};

bool isVideoPath(const std::string& path) {
  return std::find(kVideoExtensions.begin(), kVideoExtensions.end(), lowerExtension(path)) != kVideoExtensions.end();
}

}  // namespace derain::cli
