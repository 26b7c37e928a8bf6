#include "onednn_conv_timing.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cstring>
#include <unordered_map>

namespace derain::bench {

namespace {
constexpr int kWarmupRuns = 3;
constexpr float kAnyScale = 0.01f;  // the kernels' speed does not depend on the scales' values
}  // namespace

std::vector<double> oneDnnConvRoundsMs(const detail::ConvGeometry& s, TimedForm form, int rounds, int runs) {
  using dnnl::memory;
  const bool int8 = form != TimedForm::BF16;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto bf16 = memory::data_type::bf16;
  const memory::desc src_md({s.batch, s.in_channels, s.height, s.width}, int8 ? memory::data_type::u8 : bf16,
                            memory::format_tag::nhwc);
  const memory::desc dst_md({s.batch, s.out_channels, s.outputHeight(), s.outputWidth()}, bf16,
                            memory::format_tag::nhwc);
  const memory::desc weight_md({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w},
                               int8 ? memory::data_type::s8 : bf16, memory::format_tag::any);
  const memory::desc bias_md({s.out_channels}, int8 ? memory::data_type::f32 : bf16, memory::format_tag::a);
  const dnnl::convolution_forward::desc problem(dnnl::prop_kind::forward_inference,
      dnnl::algorithm::convolution_direct, src_md, weight_md, bias_md, dst_md, {s.stride_h, s.stride_w},
      {s.dilation_h - 1, s.dilation_w - 1}, {s.pad_h, s.pad_w}, {s.padBottom(), s.pad_w});
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(1 << 1, std::vector<float>(s.out_channels, kAnyScale));
  dnnl::post_ops ops;
  const memory::desc power_md({1, 1, 1, 1}, memory::data_type::f32, memory::format_tag::nhwc);
  if (form == TimedForm::Int8AsTheEngineRuns) ops.append_binary(dnnl::algorithm::binary_mul, power_md);
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
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
  if (form == TimedForm::Int8AsTheEngineRuns) {
    memory power(power_md, engine);
    *static_cast<float*>(power.get_data_handle()) = 1.0f;
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, power);
  }
  for (int i = 0; i < kWarmupRuns; ++i) conv.execute(stream, args);
  stream.wait();
  std::vector<double> means;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) conv.execute(stream, args);
    stream.wait();
    means.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / runs);
  }
  return means;
}

}  // namespace derain::bench
