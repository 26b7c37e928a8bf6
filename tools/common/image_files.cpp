#include "image_files.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "derain/error.hpp"
#include "safe_output.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

void makeFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("cannot create folder '" + dir + "': " + ec.message());
}

void writeImage(const std::string& path, const cv::Mat& image) {
  PendingFile file(path);
  bool ok = false;
  try {
    ok = cv::imwrite(file.tempPath(), image);
  } catch (const cv::Exception& e) {
    throw Error("cannot write '" + path + "': " + e.what());
  }
  if (!ok) throw Error("cannot write '" + path + "' (unknown image extension or unwritable folder?)");
  file.commit();
}

std::string unreadableReason(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return "no such file";
  if (fs::is_directory(status)) return "it is a folder, not a file";
  if (!fs::is_regular_file(status)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::string("no permission to read it (") + std::strerror(errno) + ")";
  if (fs::file_size(path, ec) == 0) return "the file is empty";
  // haveImageReader looks at the first bytes, not the extension.
  if (!cv::haveImageReader(path)) return "not a recognised image format (not an image, or a corrupt header)";
  return "corrupt or unsupported image data";
}

cv::Mat readImage(const std::string& path, int flags) {
  cv::Mat image;
  try {
    image = cv::imread(path, flags);
  } catch (const cv::Exception&) {
    image.release();
  }
  if (image.empty()) throw Error("cannot read image '" + path + "': " + unreadableReason(path));
  return image;
}

bool imageLooksTruncated(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  unsigned char head[8] = {};
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  if (size < 16) return false;
  // Look for the end marker near the end (encoders may pad a few bytes after it).
  const std::streamoff tail_size = std::min<std::streamoff>(size, 4096);
  std::vector<unsigned char> tail(static_cast<size_t>(tail_size));
  in.seekg(size - tail_size);
  in.read(reinterpret_cast<char*>(tail.data()), tail_size);
  auto contains = [&](std::initializer_list<unsigned char> marker) {
    return std::search(tail.begin(), tail.end(), marker.begin(), marker.end()) != tail.end();
  };
  if (head[0] == 0xFF && head[1] == 0xD8) return !contains({0xFF, 0xD9});     // JPEG: EOI
  if (head[0] == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G')  // PNG: IEND chunk
    return !contains({'I', 'E', 'N', 'D'});
  return false;
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

bool isWritableImagePath(const std::string& path) {
  if (lowerExtension(path).empty()) return false;
  try {
    return cv::haveImageWriter(path);
  } catch (const cv::Exception&) {
    return false;
  }
}

}  // namespace derain::cli
