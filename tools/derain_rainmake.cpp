// derain-rainmake: adds learnt rain with a DerainCycleGAN model's rainmaking branch, r = G_R(Att(n), n),
// with Gaussian noise on the attention mask so every image gets different rain; with --rain-reference the
// mask is that of a real rainy photo (the paper's Rain200A-style generation). Three modes: a clean folder -> paired set, one image, or a video.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "cli_args.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "engine_args.hpp"
#include "image_files.hpp"
#include "file_list.hpp"
#include "progress_bar.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace fs = std::filesystem;

namespace {

using derain::cli::kDataExit;
constexpr double kFallbackFps = 25.0;  // when a video does not say its frame rate

using derain::cli::isVideoPath;
using derain::cli::lowerExtension;
using derain::cli::makeFolder;

void writeImage(const fs::path& path, const cv::Mat& image) { derain::cli::writeImage(path.string(), image); }

cv::Mat tryRead(const std::string& path) {
  try {
    return cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    return {};
  }
}

int datasetMode(derain::Engine& engine, const std::string& clean_dir, const fs::path& out, float noise,
                uint64_t seed, const cv::Mat& reference) {
  const std::vector<std::string> inputs = derain::cli::listImages(clean_dir);
  if (inputs.empty()) throw derain::Error("no images in '" + clean_dir + "'");
  std::map<std::string, std::string> by_stem;
  for (const auto& in : inputs) {
    const std::string stem = fs::path(in).stem().string();
    if (auto [it, fresh] = by_stem.emplace(stem, in); !fresh)
      throw derain::Error("'" + fs::path(it->second).filename().string() + "' and '" +
                          fs::path(in).filename().string() + "' would both be written as " + stem + ".png");
  }
  const fs::path rainy_out = out / "rainy", clean_out = out / "clean";
  if (derain::cli::sameFile(clean_out.string(), clean_dir) || derain::cli::sameFile(rainy_out.string(), clean_dir))
    throw derain::Error("the output folders must not be the input folder '" + clean_dir + "'");
  makeFolder(rainy_out);
  makeFolder(clean_out);

  derain::cli::ProgressBar progress("rainmaking", static_cast<int64_t>(inputs.size()));
  int written = 0, skipped = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    derain::cli::checkInterrupted();
    const cv::Mat clean = tryRead(inputs[i]);
    if (clean.empty()) {
      std::cerr << (isatty(STDERR_FILENO) ? "\n" : "") << "derain-rainmake: warning: skipping unreadable image '"
                << inputs[i] << "'\n";
      ++skipped;
      progress.update(static_cast<int64_t>(i + 1));
      continue;
    }
    cv::Mat rainy;
    engine.rainmake(clean, rainy, derain::ColorOrder::BGR, derain::RainmakeOptions{noise, seed + i, reference});
    const std::string name = fs::path(inputs[i]).stem().string() + ".png";
    writeImage(rainy_out / name, rainy);
    writeImage(clean_out / name, clean);
    ++written;
    progress.update(static_cast<int64_t>(i + 1), name);
  }
  progress.finish();
  std::printf("wrote %d pairs to %s (%d unreadable inputs skipped)\n", written, out.string().c_str(), skipped);
  if (written == 0) {
    std::cerr << "derain-rainmake: error: no input image could be read\n";
    return kDataExit;
  }
  return 0;
}

int imageMode(derain::Engine& engine, const std::string& input, const std::string& output, float noise,
              uint64_t seed, const cv::Mat& reference) {
  const cv::Mat clean = derain::cli::readImage(input, cv::IMREAD_COLOR);
  cv::Mat rainy;
  engine.rainmake(clean, rainy, derain::ColorOrder::BGR, derain::RainmakeOptions{noise, seed, reference});
  derain::cli::checkInterrupted();
  writeImage(output, rainy);
  std::printf("wrote %s (%dx%d)\n", output.c_str(), rainy.cols, rainy.rows);
  return 0;
}

int videoMode(derain::Engine& engine, const std::string& input, const std::string& output, float noise,
              uint64_t seed, const cv::Mat& reference) {
  std::error_code ec;
  if (!fs::is_regular_file(input, ec)) throw derain::Error("video '" + input + "' does not exist");
  cv::VideoCapture capture(input);
  if (!capture.isOpened()) throw derain::Error("cannot open video '" + input + "'");
  double fps = capture.get(cv::CAP_PROP_FPS);
  if (!(fps > 0 && fps < 1000)) fps = kFallbackFps;
  const auto total = static_cast<int64_t>(capture.get(cv::CAP_PROP_FRAME_COUNT));
  // MJPG is what every OpenCV build can write into .avi; mp4v covers the MPEG-4 containers.
  const std::string ext = lowerExtension(output);
  const int fourcc = ext == ".avi" ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G')
                                   : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  derain::cli::PendingFile pending(output);  // renamed into place once every frame is written
  cv::VideoWriter writer;
  derain::cli::ProgressBar progress("rainmaking", total > 0 ? total : 0);
  cv::Mat frame, rainy;
  int64_t index = 0;
  while (capture.read(frame) && !frame.empty()) {
    derain::cli::checkInterrupted();
    engine.rainmake(frame, rainy, derain::ColorOrder::BGR,
                    derain::RainmakeOptions{noise, seed + static_cast<uint64_t>(index), reference});
    if (!writer.isOpened()) {
      writer.open(pending.tempPath(), fourcc, fps, rainy.size(), true);
      if (!writer.isOpened())
        throw derain::Error("cannot write video '" + output + "' (use .mp4 or .avi)");
    }
    writer.write(rainy);
    progress.update(++index);
  }
  progress.finish();
  if (index == 0) throw derain::Error("video '" + input + "' has no readable frame");
  writer.release();
  derain::cli::checkInterrupted();
  pending.commit();
  std::printf("wrote %s (%lld frames, %.2f fps)\n", output.c_str(), static_cast<long long>(index), fps);
  return 0;
}

int run(const derain::cli::ArgParser& args) {
  const bool dataset = args.has("clean") || args.has("out");
  const bool single = args.has("input") || args.has("output");
  if (dataset == single) args.fail("give either --clean DIR --out DIR, or --input FILE --output FILE");
  if (dataset && !(args.has("clean") && args.has("out"))) args.fail("--clean and --out go together");
  if (single && !(args.has("input") && args.has("output"))) args.fail("--input and --output go together");
  if (single && isVideoPath(args.get("input")) != isVideoPath(args.get("output")))
    args.fail("--input and --output must both be images or both be videos");
  if (single) {
    derain::cli::refuseSameFile(args.get("input"), args.get("output"));
    derain::cli::checkWritableOutput(args.get("output"));
  }
  // The reference photo is an input too: no output may replace it.
  if (args.has("rain-reference")) {
    const std::string reference = args.get("rain-reference");
    if (single) derain::cli::refuseSameFile(reference, args.get("output"));
    const fs::path reference_dir = fs::absolute(reference).parent_path();
    for (const char* sub : {"rainy", "clean"})
      if (dataset && derain::cli::sameFile(reference_dir.string(), (fs::path(args.get("out")) / sub).string()))
        throw derain::Error("refusing --rain-reference '" + reference + "': it lies in " +
                            (fs::path(args.get("out")) / sub).string() + ", where the outputs are written");
  }

  const double noise = args.getDouble("noise");
  if (!(noise >= 0.0 && noise <= 10.0)) args.fail("--noise must be in [0, 10]");
  const std::string seed_text = args.get("seed");
  uint64_t seed = 0;
  try {
    size_t used = 0;
    seed = std::stoull(seed_text, &used);
    if (used != seed_text.size() || seed_text[0] == '-') throw std::invalid_argument(seed_text);
  } catch (const std::exception&) {
    args.fail("option '--seed' needs a non-negative integer, got '" + seed_text + "'");
  }
  const derain::EngineOptions options = derain::cli::engineOptionsFrom(args);

  std::string model = args.get("model");
  if (model.empty()) model = derain::defaultModelPath();
  if (model.empty()) args.fail("no --model given and no default model installed (or DERAIN_MODEL set)");
  if (dataset) {
    // Check the input before the (slow) model load.
    if (!fs::is_directory(args.get("clean"))) throw derain::Error("'" + args.get("clean") + "' is not a folder (or does not exist)");
  }
  // Read before the (slow) model load, so a wrong path fails at once.
  const cv::Mat reference =
      args.has("rain-reference") ? derain::cli::readImage(args.get("rain-reference"), cv::IMREAD_COLOR) : cv::Mat();
  derain::cli::installInterruptHandlers();
  derain::Engine engine(model, options);
  std::cerr << "model: " << engine.describe() << "\n";
  const float mask_noise = static_cast<float>(noise);
  if (dataset) return datasetMode(engine, args.get("clean"), args.get("out"), mask_noise, seed, reference);
  if (isVideoPath(args.get("input"))) return videoMode(engine, args.get("input"), args.get("output"), mask_noise, seed, reference);
  return imageMode(engine, args.get("input"), args.get("output"), mask_noise, seed, reference);
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-rainmake", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    derain::cli::ArgParser args("derain-rainmake",
                                "Adds learnt rain to clean images with a DerainCycleGAN model's rainmaking branch\n"
                                "r = G_R(Att(n), n); Gaussian noise on the attention mask varies the rain per image\n"
                                "(the paper's way of making Rain200A-style sets).");
    args.option("model", "FILE", "model file [default: the installed model, or $DERAIN_MODEL]");
    args.option("clean", "DIR", "dataset mode: folder of clean images");
    args.option("out", "DIR", "dataset mode: writes OUT/rainy/<name>.png and OUT/clean/<name>.png");
    args.option("input", "FILE", "single mode: a clean image or video (.mp4 .avi .mkv .mov ...)");
    args.option("output", "FILE", "single mode: the rainy image or video (.mp4 or .avi)");
    args.option("noise", "SIGMA", "std-dev of the noise on the attention mask, 0 = the model's own rain", "0.1");
    args.option("rain-reference", "IMG",
                "real rainy photo whose mask drives G_R (Rain200A-style), resized to each input [default: the input's own mask]");
    args.option("seed", "N", "noise seed; input i (name order, unreadable ones counted) / frame i uses seed + i", "0");
    derain::cli::addEngineOptions(args);
    args.epilog(
        "Dataset mode writes both sides as lossless PNG named after the input's stem; unreadable inputs are\n"
        "skipped with a warning and counted. A video keeps its size and frame rate (no audio).\n"
        "Exit status: 0 on success, 1 on bad data (missing input, unreadable file, bad model file),\n"
        "2 on bad arguments.\n"
        "Examples:\n"
        "  derain-rainmake --model paper.derain --clean bsds/ --out rain200a-like/ --noise 0.1 --seed 7 \\\n"
        "                  --rain-reference real-rain/0001.jpg\n"
        "  derain-rainmake --model paper.derain --input street.jpg --output street-rain.png\n"
        "  derain-rainmake --model lite.derain --input clip.mp4 --output clip-rain.mp4");
    args.parse(argc, argv);
    if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");
    return run(args);
  });
}
