#include "paired_folders.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>

#include "derain/error.hpp"
#include "file_list.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string fileName(const std::string& path) { return fs::path(path).filename().string(); }
std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

// "norain-001" -> "001": the Rain100L/H naming of rainy ("rain-") and clean ("norain-") images.
std::string withoutRainPrefix(const std::string& path) {
  std::string s = lower(stem(path));
  for (const char* prefix : {"norain-", "norain_", "no_rain_", "rain-", "rain_"}) {
    const std::string p = prefix;
    if (s.size() > p.size() && s.compare(0, p.size(), p) == 0) return s.substr(p.size());
  }
  return s;
}

std::string listSome(const std::vector<std::string>& names, int max_listed) {
  std::string out;
  for (size_t i = 0; i < names.size() && static_cast<int>(i) < max_listed; ++i)
    out += (i ? ", " : "") + names[i];
  if (static_cast<int>(names.size()) > max_listed)
    out += " and " + std::to_string(names.size() - max_listed) + " more";
  return out;
}

}  // namespace

std::vector<ImagePair> pairImageFolders(const std::string& rainy_dir, const std::string& clean_dir,
                                        int max_listed) {
  const std::vector<std::string> rainy = listImages(rainy_dir), clean = listImages(clean_dir);
  if (rainy.empty()) throw Error("no images in rainy folder '" + rainy_dir + "'");
  if (clean.empty()) throw Error("no images in clean folder '" + clean_dir + "'");

  // Each rule keys both sides; a rule applies only to the images the previous rules left unmatched.
  const std::vector<std::function<std::string(const std::string&)>> rules{
      fileName, stem, withoutRainPrefix};
  std::vector<std::string> rainy_left = rainy, clean_left = clean;
  std::map<std::string, std::string> partner;  // rainy path -> clean path
  for (const auto& key : rules) {
    std::map<std::string, std::vector<std::string>> clean_by_key;
    for (const auto& c : clean_left) clean_by_key[key(c)].push_back(c);
    std::vector<std::string> still_rainy;
    for (const auto& r : rainy_left) {
      auto it = clean_by_key.find(key(r));
      if (it == clean_by_key.end() || it->second.empty()) {
        still_rainy.push_back(r);
        continue;
      }
      if (it->second.size() > 1)
        throw Error("rainy image '" + fileName(r) + "' matches several clean images (" +
                    fileName(it->second[0]) + ", " + fileName(it->second[1]) + ")");
      partner[r] = it->second.front();
      it->second.clear();
    }
    rainy_left = still_rainy;
    std::vector<std::string> still_clean;
    for (const auto& [k, files] : clean_by_key)
      for (const auto& c : files) still_clean.push_back(c);
    std::sort(still_clean.begin(), still_clean.end());
    clean_left = still_clean;
  }
  if (!rainy_left.empty() || !clean_left.empty()) {
    std::string message = "rainy and clean folders do not pair up by file name:";
    std::vector<std::string> names;
    if (!rainy_left.empty()) {
      for (const auto& r : rainy_left) names.push_back(fileName(r));
      message += " " + std::to_string(names.size()) + " rainy image(s) without a clean one in '" + clean_dir +
                 "' (" + listSome(names, max_listed) + ")";
    }
    if (!clean_left.empty()) {
      names.clear();
      for (const auto& c : clean_left) names.push_back(fileName(c));
      message += std::string(rainy_left.empty() ? " " : "; ") + std::to_string(names.size()) +
                 " clean image(s) without a rainy one in '" + rainy_dir + "' (" + listSome(names, max_listed) + ")";
    }
    throw Error(message);
  }
  std::vector<ImagePair> pairs;
  for (const auto& r : rainy) pairs.push_back({fileName(r), r, partner.at(r)});
  return pairs;
}

}  // namespace derain::cli
