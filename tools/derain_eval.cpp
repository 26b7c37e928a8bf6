// derain-eval: PSNR / SSIM of a paired set, scored the way deraining papers do (Y channel, MATLAB
// conventions, see derain/metrics.hpp). Without --model it scores the rainy images themselves (the
// "input" row of the tables); with --model it derains them first.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
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
#include "run_main.hpp"
#include "safe_output.hpp"

namespace fs = std::filesystem;

namespace {

cv::Mat readColour(const std::string& path) { return derain::cli::readImage(path, cv::IMREAD_COLOR); }

std::string sizeText(const cv::Size& s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

std::string pngName(const std::string& name) { return fs::path(name).stem().string() + ".png"; }

// The output checks, before any image is read: no output folder is, contains or lies inside an input
// folder, and the CSV is none of the input images.
void checkOutputs(const derain::cli::ArgParser& args, const std::vector<derain::cli::ImagePair>& pairs) {
  for (const char* out : {"out", "derained"}) {
    if (!args.has(out)) continue;
    derain::cli::refuseNestedFolders(args.get("rainy"), "--rainy", args.get(out), std::string("--") + out);
    derain::cli::refuseNestedFolders(args.get("clean"), "--clean", args.get(out), std::string("--") + out);
  }
  if (args.has("csv")) {
    const std::string csv = args.get("csv");
    for (const auto& pair : pairs) {
      derain::cli::refuseSameFile(pair.rainy, csv);
      derain::cli::refuseSameFile(pair.clean, csv);
    }
    derain::cli::checkWritableOutput(csv);
  }
}

// Reads every pair once before any work: unreadable files and size mismatches stop the run; pairs
// smaller than SSIM's window are dropped with a warning naming them. Returns the pairs to score.
std::vector<derain::cli::ImagePair> usablePairs(const std::vector<derain::cli::ImagePair>& pairs, int& too_small) {
  std::vector<derain::cli::ImagePair> usable;
  too_small = 0;
  for (const auto& pair : pairs) {
    const cv::Size rainy = readColour(pair.rainy).size(), clean = readColour(pair.clean).size();
    if (rainy != clean)
      throw derain::Error("size mismatch for '" + pair.name + "': rainy '" + pair.rainy + "' is " + sizeText(rainy) +
                          " but clean '" + pair.clean + "' is " + sizeText(clean));
    if (std::min(rainy.width, rainy.height) < derain::kSsimWindow) {
      std::cerr << "derain-eval: warning: skipping '" << pair.rainy << "': " << sizeText(rainy)
                << " is smaller than SSIM's " << derain::kSsimWindow << "x" << derain::kSsimWindow << " window\n";
      ++too_small;
      continue;
    }
    usable.push_back(pair);
  }
  return usable;
}

int run(const derain::cli::ArgParser& args) {
  const std::string rainy_dir = args.get("rainy"), clean_dir = args.get("clean");
  const std::string out_dir = args.get("out"), derained_dir = args.get("derained");
  if (!derained_dir.empty() && !args.has("model")) args.fail("--derained needs --model (there is nothing derained to save)");
  std::optional<derain::EngineOptions> options;
  if (args.has("model")) options = derain::cli::engineOptionsFrom(args);
  const auto all_pairs = derain::cli::pairImageFolders(rainy_dir, clean_dir);
  checkOutputs(args, all_pairs);
  int too_small = 0;
  // Inference is the slow part: find size problems and unreadable files before spending it.
  const auto pairs = usablePairs(all_pairs, too_small);
  if (pairs.empty())
    throw derain::Error("no pair of '" + rainy_dir + "' is large enough to score (all smaller than SSIM's " +
                        std::to_string(derain::kSsimWindow) + "x" + std::to_string(derain::kSsimWindow) + " window)");

  derain::cli::installInterruptHandlers();
  std::unique_ptr<derain::Engine> engine;
  if (options) {
    engine = std::make_unique<derain::Engine>(args.get("model"), *options);
    std::cerr << "model: " << engine->describe() << "\n";
  }
  if (!out_dir.empty()) derain::cli::makeFolder(out_dir);
  if (!derained_dir.empty()) derain::cli::makeFolder(derained_dir);
  // The CSV goes to a temporary file, renamed over --csv only once every pair is scored.
  std::optional<derain::cli::PendingFile> csv_file;
  std::ofstream csv;
  if (args.has("csv")) {
    csv_file.emplace(args.get("csv"));
    csv.open(csv_file->tempPath());
    if (!csv) throw derain::Error("cannot write CSV file '" + args.get("csv") + "'");
    csv << "name,psnr,ssim\n";
  }

  derain::cli::ProgressBar progress(engine ? "deraining+scoring" : "scoring", static_cast<int64_t>(pairs.size()));
  double psnr_sum = 0.0, ssim_sum = 0.0;
  int64_t done = 0;
  for (const auto& pair : pairs) {
    derain::cli::checkInterrupted();
    const cv::Mat rainy = readColour(pair.rainy), clean = readColour(pair.clean);
    if (rainy.size() != clean.size()) throw derain::Error("'" + pair.name + "' changed size during the run");
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
    csv.close();
    if (!csv) throw derain::Error("writing CSV file '" + args.get("csv") + "' failed");
    csv_file->commit();
  }
  if (too_small > 0)
    std::cerr << "derain-eval: " << too_small << " pair(s) skipped: smaller than SSIM's " << derain::kSsimWindow << "x"
              << derain::kSsimWindow << " window\n";
  const double n = static_cast<double>(pairs.size());
  std::printf("mean PSNR %.2f dB SSIM %.4f over %zu images\n", psnr_sum / n, ssim_sum / n, pairs.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-eval", [&] {
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
        "either side must have exactly one partner of the same size. Pairs smaller than SSIM's 11x11\n"
        "window are skipped with a warning and counted.\n"
        "Outputs are written to temporary files renamed into place when complete (the CSV once every\n"
        "pair is scored): a failed or interrupted run leaves a previous CSV intact. An output folder\n"
        "that is, contains or lies inside --rainy or --clean is refused.\n"
        "Output: progress on stderr; on stdout the single line\n"
        "  mean PSNR <dB, 2 decimals> dB SSIM <4 decimals> over <n> images\n"
        "Exit status: 0 on success, 1 on bad data (missing folder, unmatched names, size mismatch,\n"
        "unreadable image, bad model file), 2 on bad arguments.\n"
        "Example:\n"
        "  derain-eval --rainy Rain12/rainy --clean Rain12/clean --csv rain12.csv\n"
        "  derain-eval --rainy Rain12/rainy --clean Rain12/clean --model lite.derain --out sbs/");
    args.parse(argc, argv);
    if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");
    return run(args);
  });
}
