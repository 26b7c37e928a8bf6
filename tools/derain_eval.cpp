// derain-eval: PSNR / SSIM of a paired set, scored the way deraining papers do (Y channel, MATLAB
// conventions, see derain/metrics.hpp). Without --model it scores the rainy images themselves (the
// "input" row of the tables); with --model it derains them first.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_args.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "engine_args.hpp"
#include "image_files.hpp"
#include "derain/metrics.hpp"
#include "paired_folders.hpp"
#include "progress_bar.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kDataExit = 1;  // bad data or I/O (usage errors exit with cli::kUsageExit)

cv::Mat readColour(const std::string& path) {
  cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
  if (img.empty()) throw derain::Error("cannot read image '" + path + "' (missing, unreadable or not an image)");
  return img;
}

std::string sizeText(const cv::Mat& m) { return std::to_string(m.cols) + "x" + std::to_string(m.rows); }

void checkSameSize(const derain::cli::ImagePair& pair, const cv::Mat& rainy, const cv::Mat& clean) {
  if (rainy.size() != clean.size())
    throw derain::Error("size mismatch for '" + pair.name + "': rainy '" + pair.rainy + "' is " + sizeText(rainy) +
                        " but clean '" + pair.clean + "' is " + sizeText(clean));
}

std::string pngName(const std::string& name) { return fs::path(name).stem().string() + ".png"; }

int run(const derain::cli::ArgParser& args) {
  const std::string rainy_dir = args.get("rainy"), clean_dir = args.get("clean");
  const auto pairs = derain::cli::pairImageFolders(rainy_dir, clean_dir);

  std::unique_ptr<derain::Engine> engine;
  if (args.has("model")) {
    const derain::EngineOptions options = derain::cli::engineOptionsFrom(args);
    // Inference is the slow part: find size mismatches and unreadable files before spending it.
    for (const auto& pair : pairs) checkSameSize(pair, readColour(pair.rainy), readColour(pair.clean));
    engine = std::make_unique<derain::Engine>(args.get("model"), options);
    std::cerr << "model: " << engine->describe() << "\n";
  }

  const std::string out_dir = args.get("out"), derained_dir = args.get("derained");
  if (!out_dir.empty()) derain::cli::makeFolder(out_dir);
  if (!derained_dir.empty()) {
    if (!engine) args.fail("--derained needs --model (there is nothing derained to save)");
    derain::cli::makeFolder(derained_dir);
  }
  std::ofstream csv;
  if (args.has("csv")) {
    csv.open(args.get("csv"));
    if (!csv) throw derain::Error("cannot write CSV file '" + args.get("csv") + "'");
    csv << "name,psnr,ssim\n";
  }

  derain::cli::ProgressBar progress(engine ? "deraining+scoring" : "scoring", static_cast<int64_t>(pairs.size()));
  double psnr_sum = 0.0, ssim_sum = 0.0;
  int64_t done = 0;
  for (const auto& pair : pairs) {
    const cv::Mat rainy = readColour(pair.rainy), clean = readColour(pair.clean);
    checkSameSize(pair, rainy, clean);
    cv::Mat result = rainy;
    if (engine) {
      engine->derain(rainy, result, derain::ColorOrder::BGR);
      if (!derained_dir.empty()) derain::cli::writeImage((fs::path(derained_dir) / pngName(pair.name)).string(), result);
    }
    const derain::Quality q = derain::qualityY(result, clean, derain::ColorOrder::BGR);
    psnr_sum += q.psnr;
    ssim_sum += q.ssim;
    if (csv.is_open()) {
      char line[512];
      std::snprintf(line, sizeof line, "%s,%.4f,%.6f\n", pair.name.c_str(), q.psnr, q.ssim);
      csv << line;
    }
    if (!out_dir.empty()) {
      // Side by side, left to right: rainy input, [derained,] clean ground truth.
      std::vector<cv::Mat> row{rainy};
      if (engine) row.push_back(result);
      row.push_back(clean);
      cv::Mat side;
      cv::hconcat(row, side);
      derain::cli::writeImage((fs::path(out_dir) / pngName(pair.name)).string(), side);
    }
    char status[96];
    std::snprintf(status, sizeof status, "%s %.2f dB", pair.name.c_str(), q.psnr);
    progress.update(++done, status);
  }
  progress.finish();
  if (csv.is_open()) {
    csv.flush();
    if (!csv) throw derain::Error("writing CSV file '" + args.get("csv") + "' failed");
  }
  const double n = static_cast<double>(pairs.size());
  std::printf("mean PSNR %.2f dB SSIM %.4f over %zu images\n", psnr_sum / n, ssim_sum / n, pairs.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
  derain::cli::ArgParser args("derain-eval",
                              "Mean PSNR / SSIM of a paired rainy/clean set on the Y channel, with the MATLAB\n"
                              "conventions of the deraining literature (rgb2ycbcr on doubles, psnr peak 1, Wang's\n"
                              "ssim.m). Scores the rainy images themselves, or, with --model, their derained versions.");
  args.option("rainy", "DIR", "folder of rainy images", "", true);
  args.option("clean", "DIR", "folder of the clean ground truth, paired by file name", "", true);
  args.option("model", "FILE", "derain the rainy images with this model file first");
  args.option("out", "DIR", "write side-by-side PNGs here (rainy | derained | clean)");
  args.option("derained", "DIR", "write the derained images here as PNG (needs --model)");
  args.option("csv", "FILE", "write per-image scores here: name,psnr,ssim");
  derain::cli::addEngineOptions(args);  // used with --model
  args.epilog(
      "Pairing: a rainy image matches the clean image of the same file name, else of the same name\n"
      "without extension, else without a rain-/norain- prefix (Rain100L/H naming). Every image on\n"
      "either side must have exactly one partner of the same size.\n"
      "Output: progress on stderr; on stdout the single line\n"
      "  mean PSNR <dB, 2 decimals> dB SSIM <4 decimals> over <n> images\n"
      "Exit status: 0 on success, 1 on bad data (missing folder, unmatched names, size mismatch,\n"
      "unreadable image, bad model file), 2 on bad arguments.\n"
      "Example:\n"
      "  derain-eval --rainy Rain12/rainy --clean Rain12/clean --csv rain12.csv\n"
      "  derain-eval --rainy Rain12/rainy --clean Rain12/clean --model lite.derain --out sbs/");
  args.parse(argc, argv);
  if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "derain-eval: error: " << e.what() << "\n";
    return kDataExit;
  }
}
