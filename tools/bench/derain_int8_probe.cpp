// derain-int8-probe: would int8 convolutions pay on this machine? Runs one frame of a model in bf16,
// lists the oneDNN convolutions it ran (geometry and calls per frame), then times each alone in bf16
// and in int8 (u8 source, s8 weights, bf16 output through per-channel output scales and the grid's
// run-time multiply, ReLU fused: the form precision int8 runs them in, onednn_conv_timing.hpp), and
// prints both sums next to the whole bf16 frame and the machine's ceiling lines.
// The int8 sum leaves out rounding the sources (precision int8 pays that on top). It answers, for
// any host, whether int8 pays there: on an Intel AMX host int8 saved ~0.5 ms of a lite frame
// (README, session 6), on an AVX-512 VNNI host without AMX ~3 ms of 10 (README, session 15).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <tuple>

#include "cli_args.hpp"
#include "conv_ceiling.hpp"
#include "onednn_conv_timing.hpp"
#include "run_main.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/process.hpp"
#include "derain/rain.hpp"
#include "nets/onednn_conv.h"

namespace {

constexpr int kTimedRuns = 50;
constexpr int kRounds = 7;

using derain::detail::ConvGeometry;
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t>;

Key keyOf(const ConvGeometry& g) {
  return {g.in_channels, g.out_channels, g.height, g.width, g.kernel_h, g.kernel_w, g.stride_h,
          g.stride_w,    g.pad_h,        g.pad_w, g.padBottom(), g.dilation_h, g.dilation_w};
}

struct Seen {
  ConvGeometry geometry;
  int calls = 0;
};

void recordRun(const ConvGeometry& g, void* context) {
  auto& seen = *static_cast<std::map<Key, Seen>*>(context);
  auto& entry = seen[keyOf(g)];
  entry.geometry = g;
  ++entry.calls;
}

// The best round's mean time of one run, in ms (a quiet moment of the machine).
double timeConvolution(const ConvGeometry& g, bool int8) {
  using derain::bench::TimedForm;
  const auto means =
      derain::bench::oneDnnConvRoundsMs(g, int8 ? TimedForm::Int8AsTheEngineRuns : TimedForm::BF16, kRounds, kTimedRuns);
  return *std::min_element(means.begin(), means.end());
}

std::string describe(const ConvGeometry& g) {
  std::ostringstream s;
  s << g.in_channels << "->" << g.out_channels << " " << g.kernel_h << "x" << g.kernel_w << " at " << g.width << "x"
    << g.height;
  if (g.stride_h != 1 || g.stride_w != 1) s << " stride " << g.stride_h << "," << g.stride_w;
  if (g.dilation_h != 1 || g.dilation_w != 1) s << " dilation " << g.dilation_h << "," << g.dilation_w;
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-int8-probe", [&] {
    derain::keepFreedBuffersForReuse();  // its whole-frame time as derain-bench measures one (process.hpp)
    derain::cli::ArgParser args("derain-int8-probe",
                                "Times the oneDNN convolutions of one bf16 frame of a model alone, in bf16 and in int8 "
                                "(u8 activations, s8 weights), to show what an int8 engine could save on this machine.");
    args.option("model", "FILE", "the model file to probe", "models/default.derain");
    args.option("size", "WxH", "frame size", "640x360");
    args.option("threads", "N", "intra-op threads", "2");
    args.epilog("Example:\n  derain-int8-probe --model models/default.derain --size 640x360 --threads 2");
    args.parse(argc, argv);
    const auto [width, height] = args.frameSize(args.get("size"));
    const int threads = args.getInt("threads", 1, derain::kMaxThreads);
    if (!derain::detail::OneDnnConv::available()) {
      std::puts("this build calls no oneDNN API of its own: nothing to probe");
      return 0;
    }

    const double ceiling = derain::bench::convCeilingGflops(derain::Precision::BF16, threads);
    std::puts(derain::bench::ceilingLine(derain::Precision::BF16, ceiling, threads).c_str());
    std::puts(derain::bench::ceilingLine(derain::Precision::INT8, derain::bench::int8ConvCeilingGflops(threads), threads)
                  .c_str());

    derain::EngineOptions options;
    options.precision = derain::Precision::BF16;
    options.threads = threads;
    derain::Engine engine(args.get("model"), options);
    cv::Mat frame, out;
    derain::RainParams rain;
    rain.seed = 1;
    derain::addRain(derain::makeDemoScene(cv::Size(width, height), 1), frame, rain);
    for (int i = 0; i < 2; ++i) engine.derain(frame, out);  // warm: every convolution made
    constexpr int kFrames = 20;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kFrames; ++i) engine.derain(frame, out);
    const double frame_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kFrames;

    std::map<Key, Seen> seen;
    derain::detail::OneDnnConv::setRunObserver(recordRun, &seen);
    engine.derain(frame, out);
    derain::detail::OneDnnConv::setRunObserver(nullptr, nullptr);

    double bf16_total = 0, int8_total = 0;
    for (const auto& [key, entry] : seen) {
      const double bf16 = timeConvolution(entry.geometry, false), int8 = timeConvolution(entry.geometry, true);
      std::printf("%-44s x%-2d bf16 %.3f ms  int8 %.3f ms  (%.2fx)\n", describe(entry.geometry).c_str(), entry.calls,
                  bf16, int8, bf16 / int8);
      bf16_total += bf16 * entry.calls;
      int8_total += int8 * entry.calls;
    }
    std::printf("whole bf16 frame %dx%d: %.2f ms; its oneDNN convolutions alone: bf16 %.2f ms, int8 %.2f ms "
                "(%.2f ms less, %.0f%% of the frame)\n",
                width, height, frame_ms, bf16_total, int8_total, bf16_total - int8_total,
                100.0 * (bf16_total - int8_total) / frame_ms);
    return 0;
  });
}
