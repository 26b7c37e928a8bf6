// Pairs the images of a rainy folder with those of a clean folder, the way paired deraining sets are laid
// out: same file name (Rain12, our synthetic sets), same name with another extension (a.jpg / a.png), or the
// Rain100L/H convention "rain-001.png" / "norain-001.png".
#pragma once

#include <string>
#include <vector>

namespace derain::cli {

struct ImagePair {
  std::string name;   // the rainy file's name (no folder), used in reports
  std::string rainy;  // full paths
  std::string clean;
};

// Every rainy image with its clean partner, in rainy-name order. Matching tries, in order: the exact
// file name, the name without extension, and the name without extension and without a leading
// "rain-"/"rain_"/"norain-"/"norain_"/"no_rain_" prefix (case-insensitive). Throws derain::Error when a
// folder is missing or holds no image, or when any image on either side has no partner (naming up to
// `max_listed` of them), or when a key matches several files.
std::vector<ImagePair> pairImageFolders(const std::string& rainy_dir, const std::string& clean_dir,
                                        int max_listed = 5);

}  // namespace derain::cli
