// The int8 ceiling (conv_ceiling.hpp): the fp32 and bf16 ceilings' 3x3 convolution in the form
// precision int8 runs its convolutions (onednn_conv_timing.hpp).
#include <ATen/Parallel.h>

#include <numeric>

#include "conv_ceiling.hpp"
#include "onednn_conv_timing.hpp"

namespace derain::bench {

namespace {
constexpr int64_t kChannels = 64;
constexpr int64_t kSide = 256;
constexpr int kRounds = 5;
constexpr int kRunsPerRound = 60;  // ~0.2 s a round at 1.6 TOP/s: about a second in all, as the others
}  // namespace

double int8ConvCeilingGflops(int threads) {
  at::set_num_threads(threads);  // oneDNN runs on the same OpenMP threads as LibTorch
  detail::ConvGeometry g;
  g.in_channels = g.out_channels = kChannels;
  g.height = g.width = kSide;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;
  const auto means = oneDnnConvRoundsMs(g, TimedForm::Int8, kRounds, kRunsPerRound);
  const double mean_ms = std::accumulate(means.begin(), means.end(), 0.0) / means.size();
  const double macs = static_cast<double>(g.out_channels) * g.outputHeight() * g.outputWidth() * g.in_channels *
                      g.kernel_h * g.kernel_w;
  return 2.0 * macs / (mean_ms / 1000.0) / 1e9;
}

}  // namespace derain::bench
