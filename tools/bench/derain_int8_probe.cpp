// derain-int8-probe: would int8 convolutions pay on this machine? Runs one frame of a model in bf16,
// lists the oneDNN convolutions it ran (geometry and calls per frame), then times each alone in bf16
// and in int8 (u8 activations, s8 weights, an output scale, ReLU fused: the form a quantised
// engine would use) and prints both sums next to the whole bf16 frame and the machine's ceiling line.
// The int8 sum is a lower bound for an int8 engine: it leaves out quantising the activations.
// It answers a question for the owner of issue 12: on Intel AMX hosts int8 saved ~0.5 ms of a lite
// frame (README, session 6), on AVX-512 VNNI hosts without AMX it may save far more.
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>

#include "cli_args.hpp"
#include "conv_ceiling.hpp"
#include "run_main.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/rain.hpp"
#include "nets/onednn_conv.h"

namespace {

constexpr int kWarmupRuns = 20;
constexpr int kTimedRuns = 50;
constexpr int kRounds = 7;                 // the best round counts: a quiet moment of the machine
constexpr float kProbeOutputScale = 0.01f;  // any scale: the int8 kernel's speed does not depend on it

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

// Best mean time of one convolution over kRounds rounds, in ms.
double timeConvolution(const ConvGeometry& g, bool int8) {
  using dnnl::memory;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto activation = int8 ? memory::data_type::u8 : memory::data_type::bf16;
  const auto weight_type = int8 ? memory::data_type::s8 : memory::data_type::bf16;
  const auto bias_type = int8 ? memory::data_type::f32 : memory::data_type::bf16;
  const memory::desc src_md({g.batch, g.in_channels, g.height, g.width}, activation, memory::format_tag::nhwc);
  const memory::desc dst_md({g.batch, g.out_channels, g.outputHeight(), g.outputWidth()}, activation,
                            memory::format_tag::nhwc);
  const memory::desc weight_md({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, weight_type,
                               memory::format_tag::any);
  const memory::desc bias_md({g.out_channels}, bias_type, memory::format_tag::a);
  const dnnl::convolution_forward::desc problem(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, weight_md, bias_md, dst_md,
      {g.stride_h, g.stride_w}, {g.dilation_h - 1, g.dilation_w - 1}, {g.pad_h, g.pad_w}, {g.padBottom(), g.pad_w});
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(0, {kProbeOutputScale});
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  attr.set_post_ops(ops);
  const dnnl::convolution_forward::primitive_desc description(problem, attr, engine);
  memory src(description.src_desc(), engine), dst(description.dst_desc(), engine),
      weights(description.weights_desc(), engine), bias(bias_md, engine);
  // Small constant data: no denormals, no overflow, the same work as real data.
  std::memset(src.get_data_handle(), 1, description.src_desc().get_size());
  std::memset(weights.get_data_handle(), 1, description.weights_desc().get_size());
  std::memset(bias.get_data_handle(), 0, bias_md.get_size());
  const dnnl::convolution_forward conv(description);
  const std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
  for (int i = 0; i < kWarmupRuns; ++i) conv.execute(stream, args);
  stream.wait();
  double best = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kTimedRuns; ++i) conv.execute(stream, args);
    stream.wait();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kTimedRuns;
    if (round == 0 || ms < best) best = ms;
  }
  return best;
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
    derain::cli::ArgParser args("derain-int8-probe",
                                "Times the oneDNN convolutions of one bf16 frame of a model alone, in bf16 and in int8 "
                                "(u8 activations, s8 weights), to show what an int8 engine could save on this machine.");
    args.option("model", "FILE", "the model file to probe", "models/default.derain");
    args.option("size", "WxH", "frame size", "640x360");
    args.option("threads", "N", "intra-op threads", "2");
    args.epilog("Example:\n  derain-int8-probe --model models/default.derain --size 640x360 --threads 2");
    args.parse(argc, argv);
    int width = 0, height = 0;
    char x = 0;
    std::istringstream size_text(args.get("size"));
    if (!(size_text >> width >> x >> height) || x != 'x' || width < 1 || height < 1)
      args.fail("bad size '" + args.get("size") + "' (expected WIDTHxHEIGHT, e.g. 640x360)");
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
