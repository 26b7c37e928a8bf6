// derain-run: the main job. Derains an image or a video file with a model (the installed default
// unless --model is given), or, with --demo, a generated rainy street scene that needs no input files.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "cli_args.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "engine_args.hpp"
#include "image_files.hpp"
#include "progress_bar.hpp"

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
    std::cerr << "derain-run: model " << path << " (" << engine.describe() << ")\n";
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

int runImage(derain::Engine& engine, const std::string& input, const std::string& output, bool side) {
  cv::Mat image = cv::imread(input, cv::IMREAD_COLOR);
  if (image.empty()) throw derain::Error("cannot read image '" + input + "'");
  cv::Mat derained;
  engine.derain(image, derained);
  derain::cli::writeImage(output, side ? sideBySide(image, derained) : derained);
  std::printf("wrote %s\n", output.c_str());
  return 0;
}

int runVideo(derain::Engine& engine, const std::string& input, const std::string& output, bool side) {
  cv::VideoCapture capture(input);
  if (!capture.isOpened()) throw derain::Error("cannot open video '" + input + "'");
  const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
  const auto total = static_cast<int64_t>(capture.get(cv::CAP_PROP_FRAME_COUNT));
  cv::VideoWriter writer;
  derain::cli::ProgressBar bar("derain", std::max<int64_t>(total, 1));
  cv::Mat frame, derained;
  int64_t done = 0;
  while (capture.read(frame)) {
    engine.derain(frame, derained);
    cv::Mat out = side ? sideBySide(frame, derained) : derained;
    if (!writer.isOpened()) {
      // MJPG in AVI is written by every OpenCV build; other containers depend on its backends.
      const bool avi = fs::path(output).extension() == ".avi";
      const int fourcc = avi ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G') : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
      if (!writer.open(output, fourcc, fps, out.size()))
        throw derain::Error("cannot write video '" + output + "' (try an .avi output)");
    }
    writer.write(out);
    bar.update(++done);
  }
  bar.finish();
  if (done == 0) throw derain::Error("no frames could be read from '" + input + "'");
  std::printf("wrote %s (%lld frames, %.1f fps through the model)\n", output.c_str(), static_cast<long long>(done),
              bar.itemsPerSecond());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
  derain::cli::ArgParser args("derain-run", "Removes rain from an image or video with a DerainCycleGAN model.");
  args.option("input", "FILE", "rainy image (png, jpg, ...) or video (mp4, avi, mkv, ...)");
  args.option("output", "FILE", "where to write the result (same kind as the input)");
  args.option("demo", "DIR", "instead of --input: derain a generated rainy scene, write before/after PNGs to DIR");
  args.option("model", "FILE", "model file (default: $DERAIN_MODEL, else the installed default model)");
  derain::cli::addEngineOptions(args);
  args.flag("side-by-side", "write input and result next to each other");
  args.epilog("Examples:\n"
              "  derain-run --demo out/\n"
              "  derain-run --input rainy.jpg --output clean.jpg --model runs/a/model.derain\n"
              "  derain-run --input dashcam.mp4 --output derained.avi --side-by-side");
  args.parse(argc, argv);
  if (args.has("demo") == args.has("input")) args.fail("give either --input FILE --output FILE, or --demo DIR");
  if (args.has("input") && !args.has("output")) args.fail("--input needs --output");

  try {
    const derain::EngineOptions options = derain::cli::engineOptionsFrom(args);
    derain::Engine engine = openEngine(args, options);
    if (args.has("demo")) return runDemo(engine, args.get("demo"));
    const std::string input = args.get("input"), output = args.get("output");
    return derain::cli::isVideoPath(input) ? runVideo(engine, input, output, args.flagSet("side-by-side"))
                          : runImage(engine, input, output, args.flagSet("side-by-side"));
  } catch (const derain::Error& e) {
    std::cerr << "derain-run: " << e.what() << "\n";
    return 1;
  }
}
