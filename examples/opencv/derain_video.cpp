// Derains a video: cv::VideoCapture -> cv::dnn_derain -> cv::VideoWriter, with a progress bar.
//   derain_video --input rainy.mp4 --output clean.avi --model my.derain
// MJPG in an .avi container is the default because every OpenCV build can write it.
#include <chrono>
#include <iostream>
#include <string>

#include <derain/dnn_derain.hpp>
#include <derain/process.hpp>
#include <derain/video_options.hpp>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "cli_args.hpp"
#include "example_model.hpp"
#include "progress_bar.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace {
constexpr double kFallbackFps = 25.0;  // when the input does not say (cameras, some streams)

bool isCameraIndex(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}
}  // namespace

namespace {
int run(int argc, char** argv) {
  derain::cli::ArgParser args("derain_video", "Remove rain from a video file or camera (or add rain with --rainmake).");
  args.option("input", "VIDEO", "video file, stream URL, or camera index (0, 1, ...)", "", true);
  args.option("output", "FILE", "video to write (.avi with MJPG works everywhere)", "", true);
  args.option("fourcc", "CODE", "four-character codec of the output", "MJPG");
  args.option("fps", "F", "frame rate of the output; 0 = the input's", "0");
  args.option("max-frames", "N", "stop after N frames; 0 = all (required for a camera)", "0");
  example::addModelOptions(args);
  args.option("temporal-window", "N", "previous frames that help derain each frame, 0..8 (0 = each frame alone)",
              std::to_string(derain::VideoOptions().temporal_window));
  args.flag("rainmake", "synthesise rain instead of removing it");
  args.option("mask-noise", "S", "with --rainmake: std-dev of noise on the rain mask", "0");
  args.option("seed", "N", "with --rainmake: seed of frame 0's noise (frame i uses seed + i)", "0");
  args.epilog(std::string("Example:\n  derain_video --input rainy.mp4 --output clean.avi --model my.derain\n\n") +
              example::kModelNote);
  args.parse(argc, argv);
  if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional()[0] + "'");
  const std::string fourcc = args.get("fourcc");
  if (fourcc.size() != 4) args.fail("--fourcc needs exactly four characters, got '" + fourcc + "'");
  const double fps_option = args.getDouble("fps");
  const int max_frames = args.getInt("max-frames");
  const double noise = args.getDouble("mask-noise");
  const int seed = args.getInt("seed");
  if (fps_option < 0) args.fail("--fps must be >= 0");
  if (max_frames < 0) args.fail("--max-frames must be >= 0");
  if (noise < 0) args.fail("--mask-noise must be >= 0");
  if (seed < 0) args.fail("--seed must be >= 0");
  const std::string input = args.get("input");
  if (isCameraIndex(input) && max_frames == 0) args.fail("a camera needs --max-frames");
  // Before any slow work: the output may not replace the input, and its folder must take it.
  const std::string output = args.get("output");
  if (!isCameraIndex(input)) derain::cli::refuseSameFile(input, output);
  derain::cli::checkWritableOutput(output);
  derain::cli::installInterruptHandlers();  // Ctrl-C removes the partial output (run_main.hpp)

  try {
    cv::VideoCapture capture;
    if (isCameraIndex(input))
      capture.open(std::stoi(input));
    else
      capture.open(input);
    if (!capture.isOpened()) {
      std::cerr << "derain_video: cannot open video '" << input << "'\n";
      return 1;
    }
    derain::keepFreedBuffersForReuse();  // frame after frame: an application's choice (process.hpp)
    auto net = example::openModel(args);
    if (!args.flagSet("rainmake")) net->setTemporalWindow(args.getInt("temporal-window"));  // video mode
    std::cerr << "model: " << net->getModelPath() << " (" << net->describe() << ")\n";

    double fps = fps_option > 0 ? fps_option : capture.get(cv::CAP_PROP_FPS);
    if (!(fps > 0)) fps = kFallbackFps;
    int64_t total = static_cast<int64_t>(capture.get(cv::CAP_PROP_FRAME_COUNT));  // an estimate for some formats
    if (max_frames > 0 && (total <= 0 || total > max_frames)) total = max_frames;

    // Written to a temporary file with the same extension, renamed into place once complete: a
    // failure or Ctrl-C leaves any previous file of that name intact.
    derain::cli::PendingFile pending(output);
    cv::VideoWriter writer;
    derain::cli::ProgressBar bar(args.flagSet("rainmake") ? "rainmake" : "derain", total);
    cv::Mat frame, result;
    int64_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    while ((max_frames == 0 || done < max_frames) && capture.read(frame)) {
      derain::cli::checkInterrupted();
      if (args.flagSet("rainmake"))
        net->rainmake(frame, result, static_cast<float>(noise), static_cast<uint64_t>(seed) + done);
      else
        net->derain(frame, result);
      if (!writer.isOpened()) {  // opened on the first frame: its size is only known now
        const int code = cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]);
        if (!writer.open(pending.tempPath(), code, fps, result.size(), result.channels() != 1)) {
          std::cerr << "\nderain_video: cannot write '" << output << "' with fourcc " << fourcc
                    << " (try --fourcc MJPG and an .avi name)\n";
          return 1;
        }
      }
      writer.write(result);
      ++done;
      bar.update(done);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.finish();
    if (done == 0) {
      std::cerr << "derain_video: no frame could be read from '" << input << "'\n";
      return 1;
    }
    writer.release();  // flushes the container before it is renamed into place
    derain::cli::checkInterrupted();
    pending.commit();
    std::cout << output << ": " << done << " frames " << result.cols << "x" << result.rows << " in "
              << seconds << " s (" << done / seconds << " frames/s)\n";
  } catch (const cv::Exception& e) {
    std::cerr << "\nderain_video: " << e.err << "\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain_video", [&] { return run(argc, argv); });
}
