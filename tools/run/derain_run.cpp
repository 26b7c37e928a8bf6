// derain-run: the main job. Derains an image or a video file with a model (the installed default
// unless --model is given), or, with --demo, a generated rainy street scene that needs no input files.
#include <algorithm>
#include <deque>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>

#include "cli_args.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "derain/video.hpp"
#include "engine_args.hpp"
#include "image_files.hpp"
#include "progress_bar.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kDemoWidth = 640;   // demo frame: the size the lite preset is tuned for
constexpr int kDemoHeight = 360;
constexpr uint64_t kUntrainedSeed = 1;

// Labelled side-by-side: before on the left, after on the right.
cv::Mat sideBySide(const cv::Mat& before, const cv::Mat& after) {
  cv::Mat out;
  cv::hconcat(before, after, out);
  const double scale = std::max(0.4, before.cols / 640.0);
  auto label = [&](const std::string& text, int x) {
    cv::putText(out, text, {x + 8, static_cast<int>(24 * scale)}, cv::FONT_HERSHEY_SIMPLEX, 0.7 * scale,
                cv::Scalar(0, 0, 0), 4, cv::LINE_AA);
    cv::putText(out, text, {x + 8, static_cast<int>(24 * scale)}, cv::FONT_HERSHEY_SIMPLEX, 0.7 * scale,
                cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  };
  label("rainy input", 0);
  label("derained", before.cols);
  return out;
}

derain::Engine openEngine(const derain::cli::ArgParser& args, const derain::EngineOptions& options) {
  std::string path = args.has("model") ? args.get("model") : derain::defaultModelPath();
  if (!path.empty()) {
    derain::Engine engine(path, options);
    const std::string recipe = engine.recipe();
    std::cerr << "derain-run: model " << path << " (" << engine.describe() << ")\n"
              << "derain-run: recipe: " << (recipe.empty() ? "unrecorded (file written before recipes were)" : recipe)
              << "\n";
    return engine;
  }
  std::cerr << "derain-run: NOTE: no trained model found (no --model, no DERAIN_MODEL, nothing installed in the\n"
               "  default model folder). Using a FRESHLY INITIALISED, UNTRAINED lite model: the plumbing runs end\n"
               "  to end, but the output is NOT derained. Train one with derain-train and pass --model.\n";
  derain::Engine engine = derain::Engine::untrained(derain::ModelConfig::lite(), kUntrainedSeed, options);
  std::cerr << "derain-run: " << engine.describe() << "\n";
  return engine;
}

int runDemo(derain::Engine& engine, const std::string& dir) {
  derain::cli::makeFolder(dir);
  const cv::Mat clean = derain::makeDemoScene({kDemoWidth, kDemoHeight}, 7);
  derain::RainParams rain;
  rain.density = 0.06;
  rain.angle = 12;
  rain.length = 28;
  rain.intensity = 0.6;
  rain.seed = 7;
  cv::Mat rainy, derained;
  derain::addRain(clean, rainy, rain);
  engine.derain(rainy, derained);
  const auto before = derain::qualityY(rainy, clean), after = derain::qualityY(derained, clean);
  const std::string rainy_path = (fs::path(dir) / "demo-rainy.png").string();
  const std::string out_path = (fs::path(dir) / "demo-derained.png").string();
  const std::string pair_path = (fs::path(dir) / "demo-before-after.png").string();
  derain::cli::writeImage((fs::path(dir) / "demo-clean.png").string(), clean);
  derain::cli::writeImage(rainy_path, rainy);
  derain::cli::writeImage(out_path, derained);
  derain::cli::writeImage(pair_path, sideBySide(rainy, derained));
  std::printf("demo: generated %dx%d street scene with procedural rain\n", kDemoWidth, kDemoHeight);
  std::printf("demo: rainy input  PSNR %.2f dB SSIM %.4f (against the clean scene)\n", before.psnr, before.ssim);
  std::printf("demo: derained     PSNR %.2f dB SSIM %.4f\n", after.psnr, after.ssim);
  std::printf("demo: wrote %s\n", rainy_path.c_str());
  std::printf("demo: wrote %s\n", out_path.c_str());
  std::printf("demo: before/after %s\n", pair_path.c_str());
  if (!engine.trained()) std::printf("demo: (untrained model: the derained image is not meaningful yet)\n");
  return 0;
}

// The containers derain-run writes and, per container, the codecs it tries in order (the first one
// this OpenCV build can open wins).
struct VideoContainer {
  const char* extension;
  std::vector<int> fourccs;
};

const std::vector<VideoContainer>& videoContainers() {
  using W = cv::VideoWriter;
  static const std::vector<VideoContainer> kContainers{
      {".avi", {W::fourcc('M', 'J', 'P', 'G'), W::fourcc('X', 'V', 'I', 'D')}},
      {".mp4", {W::fourcc('m', 'p', '4', 'v')}},
      {".m4v", {W::fourcc('m', 'p', '4', 'v')}},
      {".mov", {W::fourcc('m', 'p', '4', 'v')}},
      {".mkv", {W::fourcc('m', 'p', '4', 'v'), W::fourcc('M', 'J', 'P', 'G')}},
      {".webm", {W::fourcc('V', 'P', '8', '0')}},  // WebM holds VP8/VP9 only: nothing else is tried
  };
  return kContainers;
}

std::string fourccText(int fourcc) {
  std::string text;
  for (int i = 0; i < 4; ++i) text += static_cast<char>((fourcc >> (8 * i)) & 0xFF);
  return text;
}

std::string supportedVideoExtensions() {
  std::string list;
  for (const auto& c : videoContainers()) list += (list.empty() ? "" : ", ") + std::string(c.extension);
  return list;
}

// Checks made before the model is loaded: the output's folder exists and is writable, it is not
// the input, and its extension suits the input (an image for an image, a container we can write for
// a video).
void checkOutput(const std::string& input, const std::string& output) {
  derain::cli::refuseSameFile(input, output);
  derain::cli::checkWritableOutput(output);
  const std::string ext = derain::cli::lowerExtension(output);
  if (derain::cli::isVideoPath(input)) {
    if (derain::cli::isWritableImagePath(output) && !derain::cli::isVideoPath(output))
      throw derain::Error("the input '" + input + "' is a video but the output '" + output +
                          "' is an image file name; give a video file (" + supportedVideoExtensions() + ")");
    for (const auto& c : videoContainers())
      if (ext == c.extension) return;
    throw derain::Error("cannot write a video as '" + output + "': unknown video extension '" + ext +
                        "' (supported: " + supportedVideoExtensions() + ")");
  }
  if (derain::cli::isVideoPath(output))
    throw derain::Error("the input '" + input + "' is an image but the output '" + output +
                        "' is a video file name; give an image file (.png, .jpg, ...)");
  if (!derain::cli::isWritableImagePath(output))
    throw derain::Error("cannot write an image as '" + output + "': '" + (ext.empty() ? std::string("no extension") : ext) +
                        "' is not an image format OpenCV writes (use .png, .jpg, .bmp, .tif or .webp)");
}

// A truncated or corrupt input: a warning, or with --strict an error (the output is then not kept).
void reportUndecoded(const std::string& what, bool strict) {
  if (strict) throw derain::Error(what + "; --strict: output not written");
  std::cerr << "derain-run: warning: " << what << "\n";
}

// What the output's format can hold: 16-bit only in PNG and TIFF (elsewhere scaled to 8-bit), alpha
// only in PNG, TIFF and WebP (elsewhere dropped). Says so when it changes the image.
cv::Mat forOutputFormat(const cv::Mat& image, const std::string& output) {
  const std::string ext = derain::cli::lowerExtension(output);
  const bool deep = ext == ".png" || ext == ".tif" || ext == ".tiff";
  const bool alpha = deep || ext == ".webp";
  cv::Mat out = image;
  if (out.depth() == CV_16U && !deep) {
    std::fprintf(stderr, "derain-run: note: %s holds 8 bits per channel; the 16-bit result is scaled to 8-bit\n",
                 ext.c_str());
    out.convertTo(out, CV_8U, 1.0 / 257.0);
  }
  if (out.channels() == 4 && !alpha) {
    std::fprintf(stderr, "derain-run: note: %s has no alpha channel; the input's alpha is not written\n", ext.c_str());
    cv::cvtColor(out, out, cv::COLOR_BGRA2BGR);
  }
  return out;
}

int runImage(derain::Engine& engine, const std::string& input, const std::string& output, bool side, bool strict) {
  // As stored: grey stays grey, alpha and 16-bit survive (the engine adapts them, derain/engine.hpp).
  cv::Mat image = derain::cli::readImage(input, cv::IMREAD_UNCHANGED);
  const bool truncated = derain::cli::imageLooksTruncated(input);
  if (truncated)
    reportUndecoded("'" + input + "' is truncated: its end is missing and decodes as grey", strict);
  cv::Mat derained;
  engine.derain(image, derained);
  derain::cli::checkInterrupted();
  derain::cli::writeImage(output, forOutputFormat(side ? sideBySide(image, derained) : derained, output));
  std::printf("wrote %s%s\n", output.c_str(), truncated ? " (from a truncated input)" : "");
  return 0;
}

int runVideo(derain::Engine& engine, const derain::VideoOptions& temporal, const std::string& input,
             const std::string& output, bool side, bool strict) {
  // FFmpeg alone where it is built in: other backends' fallbacks can hang on a damaged file.
  cv::VideoCapture capture;
  if (cv::videoio_registry::hasBackend(cv::CAP_FFMPEG))
    capture.open(input, cv::CAP_FFMPEG);
  else
    capture.open(input);
  if (!capture.isOpened()) {
    std::error_code ec;
    throw derain::Error("cannot open video '" + input + "': " +
                        (fs::is_regular_file(input, ec) ? "not a video OpenCV can decode (corrupt or unsupported)"
                                                        : derain::cli::unreadableReason(input)));
  }
  const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
  const auto total = static_cast<int64_t>(capture.get(cv::CAP_PROP_FRAME_COUNT));
  const cv::Size in_size(static_cast<int>(capture.get(cv::CAP_PROP_FRAME_WIDTH)),
                         static_cast<int>(capture.get(cv::CAP_PROP_FRAME_HEIGHT)));
  const cv::Size out_size(side ? 2 * in_size.width : in_size.width, in_size.height);

  // Open the writer (into a temporary file) before any frame is derained: a container this OpenCV
  // cannot write fails now, not after the work.
  derain::cli::PendingFile pending(output);
  cv::VideoWriter writer;
  const std::string ext = derain::cli::lowerExtension(output);
  std::string tried;
  for (const auto& c : videoContainers()) {
    if (ext != c.extension) continue;
    for (int fourcc : c.fourccs) {
      if (writer.open(pending.tempPath(), fourcc, fps, out_size)) break;
      tried += (tried.empty() ? "" : ", ") + fourccText(fourcc);
    }
  }
  if (!writer.isOpened())
    throw derain::Error("cannot write video '" + output + "': this OpenCV build has no " + ext + " writer for " +
                        (tried.empty() ? std::string("it") : tried) +
                        (ext == ".webm" ? " (WebM needs VP8); use .avi or .mp4" : "; use .avi (MJPG)"));

  // Temporal mode (video.hpp): neighbouring frames help derain each one. With look-ahead the results
  // come out `lookahead` frames late, so the inputs wait in `pending_inputs` for the side-by-side view.
  derain::VideoDerainer video(engine, temporal);
  std::deque<cv::Mat> pending_inputs;
  std::vector<cv::Mat> ready;
  derain::cli::ProgressBar bar("derain", std::max<int64_t>(total, 1));
  int64_t done = 0, read = 0;
  auto writeReady = [&] {
    for (const cv::Mat& derained : ready) {
      derain::cli::checkInterrupted();
      writer.write(side ? sideBySide(pending_inputs.front(), derained) : derained);
      pending_inputs.pop_front();
      bar.update(++done);
    }
    ready.clear();
  };
  cv::Mat frame;
  while (capture.read(frame)) {
    derain::cli::checkInterrupted();
    if (frame.size() != in_size)
      throw derain::Error("frame " + std::to_string(read) + " of '" + input + "' is " + std::to_string(frame.cols) +
                          "x" + std::to_string(frame.rows) + ", the video said " + std::to_string(in_size.width) +
                          "x" + std::to_string(in_size.height));
    ++read;
    if (side) pending_inputs.push_back(frame.clone());
    else pending_inputs.emplace_back();
    video.process(frame, ready);
    writeReady();
  }
  video.flush(ready);
  writeReady();
  bar.finish();
  writer.release();
  if (done == 0) throw derain::Error("no frames could be read from '" + input + "'");
  if (total > done)
    reportUndecoded(std::to_string(total - done) + " of " + std::to_string(total) + " frames of '" + input +
                        "' could not be decoded (truncated or corrupt input)",
                    strict);
  derain::cli::checkInterrupted();
  pending.commit();
  std::printf("wrote %s (%lld frames, %.1f fps through the model)\n", output.c_str(), static_cast<long long>(done),
              bar.itemsPerSecond());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-run", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    derain::cli::ArgParser args("derain-run", "Removes rain from an image or video with a DerainCycleGAN model.");
    args.option("input", "FILE", "rainy image (png, jpg, ...) or video (mp4, avi, mkv, ...)");
    args.option("output", "FILE",
                "where to write the result: an image for an image, a video (" + supportedVideoExtensions() +
                    ") for a video; never the input");
    args.option("demo", "DIR", "instead of --input: derain a generated rainy scene, write before/after PNGs to DIR");
    args.option("model", "FILE", "model file (default: $DERAIN_MODEL, else the installed default model)");
    derain::cli::addEngineOptions(args);
    const derain::VideoOptions video_defaults;
    args.option("temporal-window", "N",
                "videos: past frames that help derain each frame, 0..8 (0 = every frame alone)",
                std::to_string(video_defaults.temporal_window));
    args.option("lookahead", "N", "videos: future frames used too, 0..4 (that many frames of delay)",
                std::to_string(video_defaults.lookahead));
    args.flag("side-by-side", "write input and result next to each other");
    args.flag("strict", "a truncated or corrupt input (frames that cannot be decoded) is an error, not a warning");
    args.epilog("The output is written to a temporary file next to it and renamed into place when complete:\n"
                "a failure or Ctrl-C leaves no partial file and any previous file of that name intact.\n"
                "Video codecs: .avi MJPG (else XVID), .mp4/.m4v/.mov MPEG-4 (mp4v), .mkv mp4v (else MJPG),\n"
                ".webm VP8 (only where this OpenCV build can write it).\n"
                "Exit status: 0 done, 1 error (or a truncated input with --strict), 2 usage error, 130/143\n"
                "interrupted.\n"
                "Examples:\n"
                "  derain-run --demo out/\n"
                "  derain-run --input rainy.jpg --output clean.jpg --model runs/a/model.derain\n"
                "  derain-run --input dashcam.mp4 --output derained.avi --side-by-side\n"
                "  derain-run --input dashcam.mp4 --output derained.avi --temporal-window 0   (frame by frame)");
    args.parse(argc, argv);
    if (args.has("demo") == args.has("input")) args.fail("give either --input FILE --output FILE, or --demo DIR");
    if (args.has("input") && !args.has("output")) args.fail("--input needs --output");
    if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");

    const derain::EngineOptions options = derain::cli::engineOptionsFrom(args);
    derain::VideoOptions temporal;
    temporal.temporal_window = args.getInt("temporal-window", 0, derain::kMaxTemporalWindow);
    temporal.lookahead = args.getInt("lookahead", 0, derain::kMaxLookahead);
    const std::string input = args.get("input"), output = args.get("output");
    if (!args.has("demo")) {
      // Everything that can be checked before the (slow) model load and inference.
      std::error_code ec;
      if (!fs::is_regular_file(input, ec))
        throw derain::Error("cannot read " + std::string(derain::cli::isVideoPath(input) ? "video" : "image") + " '" +
                            input + "': " + derain::cli::unreadableReason(input));
      checkOutput(input, output);
    }
    derain::cli::installInterruptHandlers();
    derain::Engine engine = openEngine(args, options);
    if (args.has("demo")) return runDemo(engine, args.get("demo"));
    const bool side = args.flagSet("side-by-side"), strict = args.flagSet("strict");
    return derain::cli::isVideoPath(input) ? runVideo(engine, temporal, input, output, side, strict)
                                           : runImage(engine, input, output, side, strict);
  });
}
