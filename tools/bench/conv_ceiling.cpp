#include "conv_ceiling.hpp"

#include <cstdio>

#include <chrono>
#include <stdexcept>

#include <torch/torch.h>

#include "derain/engine.hpp"

namespace derain::bench {

namespace {
constexpr int64_t kChannels = 64;
constexpr int64_t kSide = 256;
constexpr int kWarmup = 2;
constexpr double kMinSeconds = 1.0;  // time enough repetitions to smooth out noise
}  // namespace

double convCeilingGflops(Precision precision, int threads) {
  if (precision == Precision::INT8) throw std::invalid_argument("convCeilingGflops: int8's is int8ConvCeilingGflops");
  at::set_num_threads(threads);
  c10::InferenceMode guard;
  const auto dtype = precision == Precision::BF16 ? torch::kBFloat16 : torch::kFloat32;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(kChannels, kChannels, 3).padding(1));
  conv->to(dtype);
  conv->weight.set_data(conv->weight.data().contiguous(at::MemoryFormat::ChannelsLast));
  auto x = torch::randn({1, kChannels, kSide, kSide}).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  for (int i = 0; i < kWarmup; ++i) conv->forward(x);
  int reps = 0;
  auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  do {
    conv->forward(x);
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (seconds < kMinSeconds);
  const double flops = 2.0 * kChannels * kChannels * 9 * kSide * kSide * reps;
  return flops / seconds / 1e9;
}

std::string ceilingLine(Precision precision, double gflops, int threads) {
  char line[160];
  std::snprintf(line, sizeof line, "ceiling 3x3 conv %s: %.1f GFLOP/s (%d threads, bf16 native: %s)",
                toString(precision).c_str(), gflops, threads, cpuHasNativeBf16() ? "yes" : "no");
  return line;
}

}  // namespace derain::bench
