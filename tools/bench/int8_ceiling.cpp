// The int8 ceiling (conv_ceiling.hpp): the same 3x3 convolution as the fp32 and bf16 ceilings, in the
// form precision int8 runs its convolutions (u8 source, s8 weights, bf16 output through per-channel
// output scales), through oneDNN's API as the engine calls it. Only for targets that link oneDNN.
#include <oneapi/dnnl/dnnl.hpp>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "conv_ceiling.hpp"

namespace derain::bench {

namespace {
constexpr int64_t kChannels = 64;
constexpr int64_t kSide = 256;
constexpr int kWarmup = 2;
constexpr double kMinSeconds = 1.0;
constexpr float kAnyScale = 0.01f;  // the kernel's speed does not depend on the scales' values
}  // namespace

double int8ConvCeilingGflops(int threads) {
  at::set_num_threads(threads);  // oneDNN runs on the same OpenMP threads as LibTorch
  using dnnl::memory;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::dims activation_dims{1, kChannels, kSide, kSide}, weight_dims{kChannels, kChannels, 3, 3};
  const memory::desc src_md(activation_dims, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc dst_md(activation_dims, memory::data_type::bf16, memory::format_tag::nhwc);
  const memory::desc weight_md(weight_dims, memory::data_type::s8, memory::format_tag::any);
  const memory::desc bias_md({kChannels}, memory::data_type::f32, memory::format_tag::a);
  const dnnl::convolution_forward::desc problem(dnnl::prop_kind::forward_inference,
      dnnl::algorithm::convolution_direct, src_md, weight_md, bias_md, dst_md, {1, 1}, {0, 0}, {1, 1}, {1, 1});
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, std::vector<float>(kChannels, kAnyScale));
  const dnnl::convolution_forward::primitive_desc description(problem, attr, engine);
  memory src(description.src_desc(), engine), dst(description.dst_desc(), engine),
      weights(description.weights_desc(), engine), bias(bias_md, engine);
  std::memset(src.get_data_handle(), 1, description.src_desc().get_size());
  std::memset(weights.get_data_handle(), 1, description.weights_desc().get_size());
  std::memset(bias.get_data_handle(), 0, bias_md.get_size());
  const dnnl::convolution_forward conv(description);
  const std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
  for (int i = 0; i < kWarmup; ++i) conv.execute(stream, args);
  stream.wait();
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  do {
    conv.execute(stream, args);
    stream.wait();
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (seconds < kMinSeconds);
  const double ops = 2.0 * kChannels * kChannels * 9 * kSide * kSide;
  return ops * reps / seconds / 1e9;
}

}  // namespace derain::bench
