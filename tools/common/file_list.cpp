#include "file_list.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "derain/error.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

std::vector<std::string> listImages(const std::string& dir) {
  static const std::vector<std::string> kExtensions{".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"};
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("'" + dir + "' is not a folder (or does not exist)");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end())
      files.push_back(entry.path().string());
  }
  if (ec) throw Error("cannot list folder '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace derain::cli
