// derain-rain-stats: how close one set of rainy images' streaks are to another's (e.g. G_R's or the
// procedural renderer's rain against real rain): pooled streak orientation and brightness histograms
// per folder (derain/rain_statistics.hpp), and their total variation distance to the first folder's.
#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "cli_args.hpp"
#include "derain/error.hpp"
#include "derain/rain_statistics.hpp"
#include "file_list.hpp"
#include "image_files.hpp"
#include "run_main.hpp"

namespace {

struct FolderStatistics {
  std::string folder;
  int images = 0;
  derain::RainStreakStatistics stats;
};

FolderStatistics measureFolder(const std::string& folder, int max_images) {
  FolderStatistics out;
  out.folder = folder;
  const std::vector<std::string> files = derain::cli::listImages(folder);
  if (files.empty()) throw derain::Error("no images in '" + folder + "'");
  for (const auto& file : files) {
    if (max_images > 0 && out.images >= max_images) break;
    out.stats.add(derain::measureRainStreaks(derain::cli::readImage(file, cv::IMREAD_COLOR)));
    ++out.images;
  }
  return out;
}

template <size_t N>
std::string shares(const std::array<double, N>& histogram) {
  double sum = 0;
  for (double v : histogram) sum += v;
  std::string text;
  char buf[16];
  for (double v : histogram) {
    std::snprintf(buf, sizeof buf, "%s%.3f", text.empty() ? "" : " ", sum > 0 ? v / sum : 0.0);
    text += buf;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-rain-stats", [&] {
    derain::cli::ArgParser args("derain-rain-stats",
        "Compares the rain streaks of image folders: pooled orientation and brightness histograms of each\n"
        "folder's thin bright structures, and their distance to the first folder's.\n"
        "usage: derain-rain-stats [--max N] REFERENCE_DIR OTHER_DIR...");
    args.option("max", "N", "images per folder, in name order (0 = all)", "0");
    args.epilog(
        "Per folder: images, share of streak pixels (white top-hat >= 8 levels, 7 px disc), axial mean\n"
        "streak angle (degrees from vertical, positive = top to the right), the orientation histogram\n"
        "(18 bins of 10 degrees from -90) and the brightness histogram (top-hat [8,16) [16,32) [32,64)\n"
        "[64,128) [128,255]) as shares; then, for every folder after the first, the total variation\n"
        "distance (0 = same shape, 1 = disjoint) of both histograms to the first folder's. Thin bright\n"
        "scene texture counts as streaks too: include rain-free images of the same kind for the floor.");
    args.parse(argc, argv);
    const int max_images = args.getInt("max", 0);
    if (args.positional().empty()) args.fail("give at least one folder");
    std::vector<FolderStatistics> folders;
    for (const auto& folder : args.positional()) folders.push_back(measureFolder(folder, max_images));
    for (const auto& f : folders) {
      std::printf("%s: %d images, streak share %.4f, mean angle %+.1f deg\n", f.folder.c_str(), f.images,
                  f.stats.streakShare(), f.stats.meanAngle());
      std::printf("  orientation %s\n", shares(f.stats.orientation).c_str());
      std::printf("  brightness  %s\n", shares(f.stats.intensity).c_str());
    }
    for (size_t i = 1; i < folders.size(); ++i)
      std::printf("distance %s -> %s: orientation %.3f, brightness %.3f\n", folders[i].folder.c_str(),
                  folders[0].folder.c_str(),
                  derain::histogramDistance(folders[i].stats.orientation, folders[0].stats.orientation),
                  derain::histogramDistance(folders[i].stats.intensity, folders[0].stats.intensity));
    return 0;
  });
}
