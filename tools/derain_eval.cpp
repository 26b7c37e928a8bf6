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
#include <opencv2/videoio.hpp>

#include "cli_args.hpp"
#include "derain/colour_change.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/temporal_metrics.hpp"
#include "derain/video.hpp"
#include "engine_args.hpp"
#include "file_list.hpp"
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

// One clip of a --sequences set: a folder of frames or a video file on each side.
struct Clip {
  std::string name;
  fs::path rainy, clean;
  std::vector<derain::cli::ImagePair> pairs;  // both folders: the frames paired by file name
};

// Every frame of a video file, in order; derain::Error naming the file when it cannot be decoded.
std::vector<cv::Mat> readVideoFrames(const fs::path& path) {
  std::vector<cv::Mat> frames;
  try {
    cv::VideoCapture capture(path.string());
    if (!capture.isOpened()) throw derain::Error("cannot read video '" + path.string() + "': " +
                                                 (fs::exists(path) ? "not a video OpenCV can decode" : "no such file"));
    cv::Mat frame;
    while (capture.read(frame) && !frame.empty()) frames.push_back(frame.clone());
  } catch (const cv::Exception& e) {
    throw derain::Error("cannot read video '" + path.string() + "': " + e.what());
  }
  if (frames.empty()) throw derain::Error("cannot read video '" + path.string() + "': no frames");
  return frames;
}

// The frames of one side of a clip that is a video file, or the folder's images in name order.
std::vector<cv::Mat> clipFrames(const fs::path& side) {
  if (!fs::is_directory(side)) return readVideoFrames(side);
  std::vector<cv::Mat> frames;
  for (const auto& file : derain::cli::listImages(side.string())) frames.push_back(readColour(file));
  return frames;
}

// The ground truth of clip `name` in `clean_dir`: the folder of that name, else a video file of that stem.
fs::path cleanCounterpart(const fs::path& clean_dir, const std::string& name, const fs::path& rainy) {
  if (fs::is_directory(clean_dir / name)) return clean_dir / name;
  for (const auto& ext : derain::cli::kVideoExtensions)
    if (fs::is_regular_file(clean_dir / (name + ext))) return clean_dir / (name + ext);
  throw derain::Error("no ground truth for clip '" + rainy.string() + "': neither a folder '" + name +
                      "' nor a video '" + name + ".<ext>' in '" + clean_dir.string() + "'");
}

// --rainy and --clean as two video files (one clip), or folders holding one clip each per subfolder
// of frames or video file, paired by name (a folder or video stem).
std::vector<Clip> findClips(const fs::path& rainy, const fs::path& clean) {
  std::vector<Clip> clips;
  if (fs::is_regular_file(rainy)) {
    if (!derain::cli::isVideoPath(rainy.string()))
      throw derain::Error("--rainy '" + rainy.string() + "' is a file but not a video (--sequences)");
    clips.push_back({rainy.stem().string(), rainy, clean, {}});
    return clips;
  }
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(rainy, ec)) entries.push_back(entry.path());
  if (ec) throw derain::Error("cannot list '" + rainy.string() + "': " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) {
    const bool folder = fs::is_directory(entry);
    if (!folder && !derain::cli::isVideoPath(entry.string())) continue;
    const std::string name = folder ? entry.filename().string() : entry.stem().string();
    Clip clip{name, entry, cleanCounterpart(clean, name, entry), {}};
    if (folder && fs::is_directory(clip.clean))
      clip.pairs = derain::cli::pairImageFolders(clip.rainy.string(), clip.clean.string());
    clips.push_back(std::move(clip));
  }
  if (clips.empty())
    throw derain::Error("no clips (folders of frames or video files) in '" + rainy.string() + "' (--sequences)");
  return clips;
}

// The frames of a clip: rainy and ground truth, checked to match in number and size.
void readClip(const Clip& clip, std::vector<cv::Mat>& rainy, std::vector<cv::Mat>& clean) {
  rainy.clear();
  clean.clear();
  if (!clip.pairs.empty()) {
    for (const auto& pair : clip.pairs) {
      rainy.push_back(readColour(pair.rainy));
      clean.push_back(readColour(pair.clean));
      if (rainy.back().size() != clean.back().size())
        throw derain::Error("'" + pair.rainy + "' is " + sizeText(rainy.back().size()) + " but its ground truth is " +
                            sizeText(clean.back().size()));
    }
    return;
  }
  rainy = clipFrames(clip.rainy);
  clean = clipFrames(clip.clean);
  if (rainy.size() != clean.size())
    throw derain::Error("clip '" + clip.rainy.string() + "' has " + std::to_string(rainy.size()) +
                        " frames but its ground truth '" + clip.clean.string() + "' has " + std::to_string(clean.size()));
  for (size_t f = 0; f < rainy.size(); ++f)
    if (rainy[f].size() != clean[f].size())
      throw derain::Error("frame " + std::to_string(f) + " of '" + clip.rainy.string() + "' is " +
                          sizeText(rainy[f].size()) + " but its ground truth is " + sizeText(clean[f].size()));
}

// --sequences: clips of frames (folders of images in name order, or video files; see findClips).
// Frames are derained in order with the temporal derainer (--temporal-window; 0 = frame by frame);
// PSNR/SSIM are averaged over all frames, the temporal error (temporal_metrics.hpp) over the clips.
int runSequences(const derain::cli::ArgParser& args) {
  const std::vector<Clip> clips = findClips(args.get("rainy"), args.get("clean"));

  derain::cli::installInterruptHandlers();
  std::unique_ptr<derain::Engine> engine;
  derain::VideoOptions temporal;
  temporal.temporal_window = args.getInt("temporal-window", 0, derain::kMaxTemporalWindow);
  if (args.has("model")) {
    engine = std::make_unique<derain::Engine>(args.get("model"), derain::cli::engineOptionsFrom(args));
    std::cerr << "model: " << engine->describe() << ", temporal window " << temporal.temporal_window << "\n";
  }
  double psnr_sum = 0, ssim_sum = 0, temporal_sum = 0;
  int64_t frames = 0;
  derain::cli::ProgressBar progress(engine ? "deraining+scoring" : "scoring", static_cast<int64_t>(clips.size()));
  for (size_t c = 0; c < clips.size(); ++c) {
    std::unique_ptr<derain::VideoDerainer> video;
    if (engine) video = std::make_unique<derain::VideoDerainer>(*engine, temporal);
    std::vector<cv::Mat> rainy, truths, outputs;
    readClip(clips[c], rainy, truths);
    for (const cv::Mat& frame : rainy) {
      derain::cli::checkInterrupted();
      if (video) video->process(frame, outputs);
      else outputs.push_back(frame);
    }
    if (video) video->flush(outputs);
    for (size_t f = 0; f < outputs.size(); ++f) {
      const derain::Quality q = derain::qualityY(outputs[f], truths[f], derain::ColorOrder::BGR);
      psnr_sum += q.psnr;
      ssim_sum += q.ssim;
    }
    frames += static_cast<int64_t>(outputs.size());
    if (outputs.size() >= 2) temporal_sum += derain::temporalError(outputs, truths);
    progress.update(static_cast<int64_t>(c + 1), clips[c].name);
  }
  progress.finish();
  const double n = static_cast<double>(frames);
  std::printf("mean PSNR %.2f dB SSIM %.4f over %lld frames of %zu clips, temporal error %.3f levels\n",
              psnr_sum / n, ssim_sum / n, static_cast<long long>(frames), clips.size(),
              temporal_sum / static_cast<double>(clips.size()));
  return 0;
}

// --no-reference: real rain has no ground truth. Each image of --rainy is derained and compared with
// itself (colour_change.hpp); the figures are means over the images.
int runNoReference(const derain::cli::ArgParser& args) {
  if (!args.has("model")) args.fail("--no-reference needs --model (it measures what the model changes)");
  if (args.has("clean") || args.has("out") || args.has("csv") || args.flagSet("sequences"))
    args.fail("--no-reference takes --rainy and --model (and --derained), not --clean, --out, --csv or --sequences");
  const std::vector<std::string> files = derain::cli::listImages(args.get("rainy"));
  if (files.empty()) throw derain::Error("no images in '" + args.get("rainy") + "'");
  const std::string derained_dir = args.get("derained");
  if (!derained_dir.empty()) derain::cli::refuseNestedFolders(args.get("rainy"), "--rainy", derained_dir, "--derained");
  for (const auto& file : files) readColour(file);  // unreadable files stop the run before inference
  derain::cli::installInterruptHandlers();
  derain::Engine engine(args.get("model"), derain::cli::engineOptionsFrom(args));
  std::cerr << "model: " << engine.describe() << "\n";
  if (!derained_dir.empty()) derain::cli::makeFolder(derained_dir);
  derain::ColourChange mean;
  derain::cli::ProgressBar progress("deraining", static_cast<int64_t>(files.size()));
  int64_t done = 0;
  for (const auto& file : files) {
    derain::cli::checkInterrupted();
    const cv::Mat rainy = readColour(file);
    cv::Mat result;
    engine.derain(rainy, result, derain::ColorOrder::BGR);
    if (!derained_dir.empty()) derain::cli::writeImage((fs::path(derained_dir) / pngName(file)).string(), result);
    const derain::ColourChange c = derain::colourChange(rainy, result, derain::ColorOrder::BGR);
    mean.shift_r += c.shift_r, mean.shift_g += c.shift_g, mean.shift_b += c.shift_b;
    mean.changed_share += c.changed_share;
    progress.update(++done, fs::path(file).filename().string());
  }
  progress.finish();
  const double n = static_cast<double>(files.size());
  mean.shift_r /= n, mean.shift_g /= n, mean.shift_b /= n, mean.changed_share /= n;
  std::printf("mean shift R %+.2f G %+.2f B %+.2f levels, spread %.2f levels, changed by > %g levels %.2f %% of pixels "
              "over %zu images\n",
              mean.shift_r, mean.shift_g, mean.shift_b, mean.spread(), derain::kVisibleChangeLevels,
              100.0 * mean.changed_share, files.size());
  return 0;
}

int run(const derain::cli::ArgParser& args) {
  if (args.flagSet("no-reference")) return runNoReference(args);
  if (!args.has("clean")) args.fail("--clean is required (or --no-reference, for images without ground truth)");
  if (args.flagSet("sequences")) return runSequences(args);
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
    args.option("clean", "DIR", "folder of the clean ground truth, paired by file name (required unless "
                                "--no-reference)");
    args.option("model", "FILE", "derain the rainy images with this model file first");
    args.option("out", "DIR", "write side-by-side PNGs here (rainy | derained | clean)");
    args.option("derained", "DIR", "write the derained images here as PNG (needs --model)");
    args.option("csv", "FILE", "write per-image scores here: name,psnr,ssim");
    derain::cli::addEngineOptions(args);  // used with --model
    args.flag("sequences", "--rainy and --clean hold clips: one folder of frames (derain-synth --video) or one "
                           "video file per clip, paired by name, or are two video files; frames are derained in "
                           "order and the temporal error is reported too");
    args.flag("no-reference", "images without ground truth (real rain): derain --rainy with --model and report "
                              "how the output differs from the input (per-channel mean shift, its spread between "
                              "channels, share of pixels changed visibly)");
    args.option("temporal-window", "N", "with --sequences and --model: previous frames used, 0..8 (0 = each frame "
                                        "alone)", std::to_string(derain::VideoOptions().temporal_window));
    args.epilog(
        "Pairing: a rainy image matches the clean image of the same file name, else of the same name\n"
        "without extension, else without a rain-/norain- prefix (Rain100L/H naming). Every image on\n"
        "either side must have exactly one partner of the same size. Pairs smaller than SSIM's 11x11\n"
        "window are skipped with a warning and counted.\n"
        "With --sequences, a clip is a folder of frames (frames paired by name) or a video file; its\n"
        "ground truth in --clean is the folder or video of the same name (any video extension). Use a\n"
        "lossless codec (e.g. FFV1 in .mkv) for ground-truth videos: a lossy one moves the scores.\n"
        "Outputs are written to temporary files renamed into place when complete (the CSV once every\n"
        "pair is scored): a failed or interrupted run leaves a previous CSV intact. An output folder\n"
        "that is, contains or lies inside --rainy or --clean is refused.\n"
        "Output: progress on stderr; on stdout the single line\n"
        "  mean PSNR <dB, 2 decimals> dB SSIM <4 decimals> over <n> images\n"
        "or, with --sequences,\n"
        "  mean PSNR <dB> dB SSIM <ssim> over <n> frames of <c> clips, temporal error <levels> levels\n"
        "(the temporal error: mean |(out_t - out_t-1) - (gt_t - gt_t-1)| in 8-bit levels; flicker and\n"
        "leftover moving rain raise it), or, with --no-reference,\n"
        "  mean shift R <+levels> G <+levels> B <+levels> levels, spread <levels> levels, changed by > 8\n"
        "  levels <percent> % of pixels over <n> images\n"
        "(means over the images of output - input per channel; the spread is the largest minus the\n"
        "smallest channel shift, i.e. the tint; a pixel is changed when one channel moved by > 8 levels).\n"
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
