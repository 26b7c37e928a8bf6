// derain-bench: inference speed of each preset at typical video sizes, as ms/frame, fps, achieved
// GFLOP/s (convolutions only), peak RSS, next to the machine's 3x3-conv ceiling measured in the same run.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_args.hpp"
#include "engine_args.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"
#include "conv_ceiling.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/inference_library.hpp"
#include "derain/rain.hpp"

namespace {

constexpr double kLiteSeconds = 3.0;   // time budget per lite case
constexpr double kPaperSeconds = 1.0;  // the paper preset is slow on CPU: few iterations
// Frames run before the clock starts. One was not enough: the paper preset's fp32 frame after a single
// warm-up took 1617 ms, the ones after it 1214-1230 ms (AMD EPYC, `ceiling 3x3 conv fp32: 422.7`), and
// with its one-frame budget that first frame was the whole measurement. bf16 and lite settle after one.
constexpr int kWarmupFrames = 2;

using Size = derain::cli::FrameSize;

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Peak resident set since the last reset, in MB (Linux VmHWM).
double peakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// Writing "5" to clear_refs resets VmHWM, so each case reports its own peak.
void resetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// N streams (threads) deraining at once through one shared engine, the way several `derain`
// elements with the same model share one (inference_library.hpp): frames per second in total.
// Run in a process of its own (--streams-child): like an application of shared engines only, with no
// LibTorch thread pool of this benchmark's own threads around (engine_thread.h says why that matters).
double sharedStreamsFps(const std::string& model, const derain::EngineOptions& options, const cv::Mat& frame,
                        int streams, double seconds) {
  auto shared = derain::inferenceLibrary().openShared(model, options);
  { cv::Mat warm; shared->derain(frame, warm, derain::ColorOrder::BGR); }
  std::atomic<int> frames{0};
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::vector<std::thread> workers;
  for (int s = 0; s < streams; ++s)
    workers.emplace_back([&] {
      cv::Mat out;
      while (elapsed() < seconds) {
        shared->derain(frame, out, derain::ColorOrder::BGR);
        ++frames;
      }
    });
  for (auto& w : workers) w.join();
  return frames / elapsed();
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-bench", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    derain::cli::ArgParser args("derain-bench",
                                "Measures inference speed of the model presets on this machine (untrained weights:\n"
                                "speed does not depend on their values).");
    args.option("preset", "LIST", "presets to run, comma-separated: lite, paper", "lite,paper");
    args.option("size", "LIST", "frame sizes WxH, comma-separated", "481x321,640x360,1280x720");
    args.option("precision", "LIST", "precisions, comma-separated: fp32, bf16, int8", "fp32");
    args.option("threads", "N", "intra-op threads (0 = every core)", "0");
    args.option("tile-size", "N", "tile side (0 = auto)", "0");
    args.option("seconds", "S", "time budget per lite case (paper cases use a third)", std::to_string(kLiteSeconds));
    args.option("streams", "N", "also run N streams at once through one shared engine (total fps)", "1");
    args.option("model", "FILE", "time this model file (e.g. the shipped default) instead of the untrained presets");
    args.option("streams-child", "FILE", "internal: measure only the --streams case of this model file (one size and "
                                         "precision) and print its total fps");
    args.option("output", "FILE", "also append the result lines to FILE");
    args.epilog("Example:\n  derain-bench --preset lite --size 640x360 --precision fp32,bf16 --output bench.txt");
    args.parse(argc, argv);

    std::vector<Size> sizes;
    for (const auto& s : splitList(args.get("size"))) sizes.push_back(args.frameSize(s));
    std::vector<derain::Precision> precisions;
    std::vector<derain::ModelConfig> presets;
    try {
      for (const auto& p : splitList(args.get("precision"))) precisions.push_back(derain::parsePrecision(p));
      if (!args.has("model"))
        for (const auto& p : splitList(args.get("preset"))) presets.push_back(derain::ModelConfig::fromPreset(p));
    } catch (const derain::Error& e) {
      args.fail(e.what());
    }
    const double budget = args.getDouble("seconds");
    // --output keeps its earlier lines and gains these: rewritten through a temporary file after each
    // line, so an interrupted run leaves whole lines and never touches the model it times.
    std::string results;
    if (args.has("output")) {
      const std::string output = args.get("output");
      if (args.has("model")) derain::cli::refuseSameFile(args.get("model"), output);
      derain::cli::checkWritableOutput(output);
      std::error_code ec;
      if (std::filesystem::exists(output, ec)) {  // its lines are kept: it must be readable
        std::ifstream previous(output, std::ios::binary);
        if (!previous) throw derain::Error("cannot read '" + output + "', whose lines --output would keep");
        results.assign(std::istreambuf_iterator<char>(previous), std::istreambuf_iterator<char>());
      }
    }
    auto emit = [&](const std::string& line) {
      std::cout << line << std::endl;
      if (!args.has("output")) return;
      results += line + "\n";
      derain::cli::PendingFile file(args.get("output"));
      std::ofstream out(file.tempPath(), std::ios::binary);
      out << results;
      out.close();
      // A short write (a full disk) must not be renamed over the earlier lines.
      if (!out) throw derain::Error("cannot write '" + args.get("output") + "'");
      file.commit();
    };

    derain::EngineOptions options;
    options.device = derain::Device::CPU;
    options.threads = derain::cli::threadsOption(args);
    options.tile_size = args.getInt("tile-size", 0, derain::kMaxTileSize);
    try {
      options.validate();
    } catch (const derain::Error& e) {
      args.fail(e.what());
    }
    if (args.has("streams-child")) {
      options.precision = precisions.front();
      cv::Mat frame;
      derain::RainParams rain;
      rain.seed = 1;
      derain::addRain(derain::makeDemoScene(cv::Size(sizes.front().width, sizes.front().height), 1), frame, rain);
      std::printf("%.3f\n", sharedStreamsFps(args.get("streams-child"), options, frame,
                                              args.getInt("streams", 1, 64), budget));
      return 0;
    }
    // The --streams case in a fresh process of its own (see sharedStreamsFps).
    auto streamsFps = [&](const derain::Engine& engine, Size size, derain::Precision precision, int streams,
                          double seconds) {
      char dir_template[] = "/tmp/derain-bench-XXXXXX";
      const char* dir = mkdtemp(dir_template);
      if (!dir) throw derain::Error("cannot create a temporary folder for the shared model");
      const std::string model = std::string(dir) + "/model.derain";
      engine.save(model);
      // Single-quoted for the shell, a quote inside written as '\'' (any path works).
      auto quoted = [](const std::string& text) {
        std::string out = "'";
        for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return out + "'";
      };
      const std::string command = quoted(argv[0]) + " --streams-child " + quoted(model) + " --size " +
          std::to_string(size.width) + "x" + std::to_string(size.height) + " --precision " +
          derain::toString(precision) + " --threads " + std::to_string(options.threads) + " --streams " +
          std::to_string(streams) + " --seconds " + std::to_string(seconds);
      FILE* child = popen(command.c_str(), "r");
      double fps = -1;
      if (child != nullptr) {
        if (std::fscanf(child, "%lf", &fps) != 1) fps = -1;
        pclose(child);
      }
      std::remove(model.c_str());
      rmdir(dir);
      if (fps < 0) throw derain::Error("the --streams measurement failed: " + command);
      return fps;
    };
    {
      const derain::Engine probe = derain::Engine::untrained(derain::ModelConfig::lite(), 0, options);
      const int threads = derain::runtimeThreads();
      const int streams = args.getInt("streams", 1, 64);
      std::map<derain::Precision, double> ceiling;  // GFLOP/s: every case is quoted as a share of it
      for (auto precision : precisions) {
#if DERAIN_BENCH_INT8
        ceiling[precision] = precision == derain::Precision::INT8
                                 ? derain::bench::int8ConvCeilingGflops(threads)
                                 : derain::bench::convCeilingGflops(precision, threads);
#else
        if (precision == derain::Precision::INT8) args.fail("this derain-bench was built without oneDNN's API: no int8");
        ceiling[precision] = derain::bench::convCeilingGflops(precision, threads);
#endif
        emit(derain::bench::ceilingLine(precision, ceiling[precision], threads));
      }
      // A model file is timed once per precision under its own preset's name, marked "(file)".
      const size_t cases = args.has("model") ? 1 : presets.size();
      for (size_t c = 0; c < cases; ++c) {
        for (auto precision : precisions) {
          options.precision = precision;
          derain::Engine engine = args.has("model") ? derain::Engine(args.get("model"), options)
                                                    : derain::Engine::untrained(presets[c], 0, options);
          const derain::ModelConfig& config = engine.config();
          const std::string label = config.preset + (args.has("model") ? " (file)" : "");
          for (const Size& size : sizes) {
            cv::Mat frame, out;
            derain::RainParams rain;
            rain.seed = 1;
            derain::addRain(derain::makeDemoScene(cv::Size(size.width, size.height), 1), frame, rain);
            resetPeakRss();
            for (int i = 0; i < kWarmupFrames; ++i) engine.derain(frame, out);
            const double case_budget = config.preset == "paper" ? budget / 3 : budget;
            int frames = 0;
            double seconds = 0;
            auto start = std::chrono::steady_clock::now();
            do {
              engine.derain(frame, out);
              ++frames;
              seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            } while (seconds < case_budget);
            const double ms = 1000.0 * seconds / frames;
            const double gflops = 2.0 * engine.macsPerFrame(size.width, size.height) / (seconds / frames) / 1e9;
            char line[240];
            std::snprintf(line, sizeof line,
                          "%s %dx%d %s: %.1f ms/frame %.2f fps %.1f GFLOP/s (%.0f%% of the %s ceiling) rss %.0f MB "
                          "(%d frames)",
                          label.c_str(), size.width, size.height, derain::toString(precision).c_str(), ms,
                          1000.0 / ms, gflops, 100.0 * gflops / ceiling[precision],
                          derain::toString(precision).c_str(), peakRssMb(), frames);
            emit(line);
            if (streams > 1) {
              const double total_fps = streamsFps(engine, size, precision, streams, case_budget);
              std::snprintf(line, sizeof line, "%s %dx%d %s: %d streams, one shared engine: %.2f fps in total",
                            label.c_str(), size.width, size.height, derain::toString(precision).c_str(),
                            streams, total_fps);
              emit(line);
            }
          }
        }
      }
    }
    return 0;
  });
}
