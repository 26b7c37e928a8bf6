#include "nets/onednn_conv.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "nets/int8_quantise.h"

#if DERAIN_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace derain::detail {

namespace {
std::atomic<bool> enabled{true};
std::atomic<OneDnnConv::RunObserver> run_observer{nullptr};
void* run_observer_context = nullptr;
}  // namespace

void OneDnnConv::setEnabled(bool on) { enabled = on; }

void OneDnnConv::setRunObserver(RunObserver observer, void* context) {
  run_observer_context = context;
  run_observer = observer;
}

#if DERAIN_HAVE_ONEDNN

namespace {
using Dims = dnnl::memory::dims;
using Tag = dnnl::memory::format_tag;

const dnnl::engine& cpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

constexpr float kWeightLevels = 127.0f;  // s8 weights, symmetric

float bf16Value(const void* data, int64_t at) { return bf16BitsValue(static_cast<const uint16_t*>(data)[at]); }

// The epilogue as oneDNN post-ops (the same for every type), after those already in `ops`;
// residual_arg: the argument that names the residual of a binary add (0: none).
dnnl::post_ops epilogueOps(ConvEpilogue epilogue, const dnnl::memory::desc& dst_md, int* residual_arg,
                           dnnl::post_ops ops = {}) {
  *residual_arg = 0;
  if (epilogue.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  if (epilogue.add_relu) {
    if (epilogue.in_place) {
      ops.append_sum(1.0f);
    } else {
      *residual_arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(ops.len()) | DNNL_ARG_SRC_1;
      ops.append_binary(dnnl::algorithm::binary_add, dst_md);
    }
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  }
  return ops;
}
}  // namespace

// ConvType::Int8's weights, rounded once, and its convolutions: one for u8 sources, one for s8. The
// grid's power of two reaches oneDNN at run time (a binary multiply, the first post-op, and the
// bias in the sums' units), so a source whose range moves from frame to frame costs no new
// primitive: no JIT stall mid-stream and no further copy of the weights.
struct Int8State {
  std::vector<int8_t> weight_levels;  // [out, in, kh, kw], dense
  std::vector<float> weight_scales;   // per output channel
  std::vector<float> bias;            // per output channel, in bf16's values; empty: none
  dnnl::post_ops ops;                 // the grid's multiply, then the epilogue
  int residual_arg = 0;
  struct Variant {
    dnnl::convolution_forward::primitive_desc description;
    dnnl::convolution_forward primitive;
    std::unordered_map<int, dnnl::memory> args;  // src (pointed at the levels on each run), weights, ...
  };
  std::unique_ptr<Variant> variants[2];  // [is_signed]
  // The last run's grid: its power of two, and the bias in its sums' units (oneDNN 2.x adds the
  // bias before scaling). Shared by both variants.
  dnnl::memory grid_power, scaled_bias;
  std::optional<Int8Grid> applied;
};

// Described as LibTorch's prepacked convolution describes its own (forward_training, direct
// algorithm, weights in the format oneDNN prefers, user scratchpad): the same problem gives oneDNN
// the same kernel, so results are LibTorch's bit for bit where the epilogue is the same.
struct OneDnnConv::Impl {
  dnnl::stream stream{cpuEngine()};
  ConvGeometry geometry;
  dnnl::convolution_forward::primitive_desc description;
  dnnl::convolution_forward primitive;
  dnnl::memory src, dst, residual;  // handles pointed at the caller's memory on each run
  bool takes_residual = false;
  // The primitive's arguments, made once: the memories are handles, so pointing src, dst and
  // residual at a run's data updates them here too.
  std::unordered_map<int, dnnl::memory> args;
  std::unique_ptr<Int8State> int8;  // ConvType::Int8 only (then description/primitive are unused)

  void applyInt8Grid(const Int8Grid& grid);
  Int8State::Variant& int8Variant(bool is_signed);
};

// Points the run-time arguments at a grid: its power of two, and the bias in the units of the sums
// (each channel's weight step over the grid's levels, times the power).
void OneDnnConv::Impl::applyInt8Grid(const Int8Grid& grid) {
  Int8State& q = *int8;
  if (q.applied == grid) return;
  const float power = std::ldexp(1.0f, grid.exponent);
  *static_cast<float*>(q.grid_power.get_data_handle()) = power;
  if (!q.bias.empty()) {
    auto* b = static_cast<float*>(q.scaled_bias.get_data_handle());
    for (int64_t o = 0; o < geometry.out_channels; ++o)
      b[o] = q.bias[o] / (q.weight_scales[o] / grid.maxLevel() * power);
  }
  q.applied = grid;
}

// The int8 convolution for a source sign: u8 or s8 source, s8 weights, output scales of each
// channel's weight step over the sign's levels (255 or 127), then the grid's power of two
// (multiplying by it is exact), together the value of one unit of the sums. Made once.
Int8State::Variant& OneDnnConv::Impl::int8Variant(bool is_signed) {
  Int8State& q = *int8;
  const ConvGeometry& g = geometry;
  const Int8Grid grid{is_signed, 0};  // the sign's levels; the exponent arrives at run time
  std::unique_ptr<Int8State::Variant>& slot = q.variants[is_signed ? 1 : 0];
  if (slot) return *slot;
  const auto& engine = cpuEngine();
  using DataType = dnnl::memory::data_type;
  const Dims src_dims{g.batch, g.in_channels, g.height, g.width};
  const Dims dst_dims{g.batch, g.out_channels, g.outputHeight(), g.outputWidth()};
  const Dims weight_dims{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const dnnl::memory::desc src_md(src_dims, grid.is_signed ? DataType::s8 : DataType::u8, Tag::nhwc);
  const dnnl::memory::desc dst_md(dst_dims, DataType::bf16, Tag::nhwc);
  const dnnl::memory::desc bias_md = q.bias.empty() ? dnnl::memory::desc() : q.scaled_bias.get_desc();
  const dnnl::convolution_forward::desc problem(dnnl::prop_kind::forward_inference,
      dnnl::algorithm::convolution_direct, src_md, dnnl::memory::desc(weight_dims, DataType::s8, Tag::any), bias_md,
      dst_md, Dims{g.stride_h, g.stride_w}, Dims{g.dilation_h - 1, g.dilation_w - 1}, Dims{g.pad_h, g.pad_w},
      Dims{g.padBottom(), g.pad_w});
  std::vector<float> output_scales(g.out_channels);
  for (int64_t o = 0; o < g.out_channels; ++o) output_scales[o] = q.weight_scales[o] / grid.maxLevel();
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, output_scales);  // mask: dimension 1, the output channel
  attr.set_post_ops(q.ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto v = std::make_unique<Int8State::Variant>();
  v->description = dnnl::convolution_forward::primitive_desc(problem, attr, engine);
  v->primitive = dnnl::convolution_forward(v->description);
  dnnl::memory user_weights({weight_dims, DataType::s8, Tag::oihw}, engine, q.weight_levels.data());
  dnnl::memory weights(v->description.weights_desc(), engine);
  dnnl::reorder(user_weights, weights).execute(stream, user_weights, weights);
  stream.wait();
  v->args = {{DNNL_ARG_SRC, dnnl::memory(src_md, engine, nullptr)},
             {DNNL_ARG_WEIGHTS, weights},
             {DNNL_ARG_DST, dst},
             {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, q.grid_power},
             {DNNL_ARG_SCRATCHPAD, dnnl::memory(v->description.scratchpad_desc(), engine)}};
  if (q.residual_arg) v->args.emplace(q.residual_arg, residual);
  if (!q.bias.empty()) v->args.emplace(DNNL_ARG_BIAS, q.scaled_bias);
  slot = std::move(v);
  return *slot;
}

std::unique_ptr<OneDnnConv> OneDnnConv::make(const ConvGeometry& g, ConvType type, ActivationLayout layout,
                                             ConvEpilogue epilogue, const void* weight,
                                             const int64_t weight_strides[4], const void* bias) {
  if (!available()) return nullptr;
  if (type == ConvType::Int8) return makeInt8(g, layout, epilogue, weight, weight_strides, bias);
  const auto& engine = cpuEngine();
  const auto dt = type == ConvType::BF16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  const auto activations = layout == ActivationLayout::NHWC ? Tag::nhwc : Tag::nchw;
  const Dims src_dims{g.batch, g.in_channels, g.height, g.width};
  const Dims dst_dims{g.batch, g.out_channels, g.outputHeight(), g.outputWidth()};
  const Dims weight_dims{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const dnnl::memory::desc src_md(src_dims, dt, activations), dst_md(dst_dims, dt, activations);
  const dnnl::memory::desc bias_md = bias ? dnnl::memory::desc({g.out_channels}, dt, Tag::a) : dnnl::memory::desc();
  const Dims padding_top_left{g.pad_h, g.pad_w}, padding_bottom_right{g.padBottom(), g.pad_w};
  const dnnl::convolution_forward::desc problem(dnnl::prop_kind::forward_training,
      dnnl::algorithm::convolution_direct, src_md, dnnl::memory::desc(weight_dims, dt, Tag::any), bias_md, dst_md,
      Dims{g.stride_h, g.stride_w}, Dims{g.dilation_h - 1, g.dilation_w - 1}, padding_top_left,
      padding_bottom_right);

  int residual_arg = 0;
  const dnnl::post_ops ops = epilogueOps(epilogue, dst_md, &residual_arg);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  auto impl = std::make_unique<Impl>();
  impl->geometry = g;
  impl->description = dnnl::convolution_forward::primitive_desc(problem, attr, engine);
  impl->primitive = dnnl::convolution_forward(impl->description);
  impl->src = dnnl::memory(src_md, engine, nullptr);
  impl->dst = dnnl::memory(dst_md, engine, nullptr);
  impl->args = {{DNNL_ARG_SRC, impl->src}, {DNNL_ARG_DST, impl->dst},
                {DNNL_ARG_SCRATCHPAD, dnnl::memory(impl->description.scratchpad_desc(), engine)}};
  if (residual_arg) {
    impl->residual = dnnl::memory(dst_md, engine, nullptr);
    impl->args.emplace(residual_arg, impl->residual);
    impl->takes_residual = true;
  }

  // Packed once: LibTorch re-orders them on every call of its unpacked convolution.
  const dnnl::memory::desc user_weight_md(weight_dims, dt,
      Dims{weight_strides[0], weight_strides[1], weight_strides[2], weight_strides[3]});
  dnnl::memory user_weights(user_weight_md, engine, const_cast<void*>(weight));
  dnnl::memory weights(impl->description.weights_desc(), engine);
  dnnl::reorder(user_weights, weights).execute(impl->stream, user_weights, weights);
  impl->stream.wait();
  impl->args.emplace(DNNL_ARG_WEIGHTS, weights);
  if (bias) {
    dnnl::memory bias_memory(bias_md, engine);
    std::memcpy(bias_memory.get_data_handle(), bias, bias_md.get_size());
    impl->args.emplace(DNNL_ARG_BIAS, bias_memory);
  }
  return std::unique_ptr<OneDnnConv>(new OneDnnConv(std::move(impl)));
}

void OneDnnConv::run(const void* src, void* dst, const void* residual) {
  Impl& m = *impl_;
  if (m.takes_residual && residual == nullptr) throw std::invalid_argument("OneDnnConv: the epilogue needs a residual");
  if (const auto observer = run_observer.load()) observer(m.geometry, run_observer_context);
  m.dst.set_data_handle(dst);
  if (m.takes_residual) m.residual.set_data_handle(const_cast<void*>(residual));
  if (m.int8) {
    const ConvGeometry& g = m.geometry;
    const auto* values = static_cast<const uint16_t*>(src);
    const int64_t n = g.batch * g.in_channels * g.height * g.width;
    // One buffer of levels per thread for every convolution it runs, not one per convolution, each
    // the size of its source. A convolution runs on one thread at a time.
    static thread_local std::vector<uint8_t> levels;
    if (levels.size() < static_cast<size_t>(n)) levels.resize(n);
    const Int8Grid grid = quantiseBf16(values, n, levels.data());
    m.applyInt8Grid(grid);
    Int8State::Variant& variant = m.int8Variant(grid.is_signed);
    variant.args.at(DNNL_ARG_SRC).set_data_handle(levels.data());
    variant.primitive.execute(m.stream, variant.args);
    m.stream.wait();
    return;
  }
  m.src.set_data_handle(const_cast<void*>(src));
  m.primitive.execute(m.stream, m.args);
  m.stream.wait();
}

std::unique_ptr<OneDnnConv> OneDnnConv::makeInt8(const ConvGeometry& g, ActivationLayout layout,
                                                 ConvEpilogue epilogue, const void* weight,
                                                 const int64_t weight_strides[4], const void* bias) {
  if (layout != ActivationLayout::NHWC) throw std::invalid_argument("OneDnnConv: int8 takes NHWC activations only");
  const auto& engine = cpuEngine();
  auto impl = std::make_unique<Impl>();
  impl->geometry = g;
  auto state = std::make_unique<Int8State>();
  const int64_t per_channel = g.in_channels * g.kernel_h * g.kernel_w;
  state->weight_levels.resize(g.out_channels * per_channel);
  state->weight_scales.resize(g.out_channels);
  std::vector<float> channel(per_channel);  // one output channel's weights, dense [in, kh, kw]
  for (int64_t o = 0; o < g.out_channels; ++o) {
    for (int64_t i = 0, k = 0; i < g.in_channels; ++i)
      for (int64_t y = 0; y < g.kernel_h; ++y)
        for (int64_t x = 0; x < g.kernel_w; ++x, ++k)
          channel[k] = bf16Value(weight, o * weight_strides[0] + i * weight_strides[1] + y * weight_strides[2] +
                                             x * weight_strides[3]);
    float peak = 0.0f;
    for (float w : channel) peak = std::max(peak, std::fabs(w));
    const float step = peak > 0.0f ? peak / kWeightLevels : 1.0f;
    state->weight_scales[o] = step;
    int8_t* levels = state->weight_levels.data() + o * per_channel;
    for (int64_t k = 0; k < per_channel; ++k)
      levels[k] = static_cast<int8_t>(std::nearbyint(std::clamp(channel[k] / step, -kWeightLevels, kWeightLevels)));
  }
  if (bias) {
    state->bias.resize(g.out_channels);
    for (int64_t o = 0; o < g.out_channels; ++o) state->bias[o] = bf16Value(bias, o);
  }
  const dnnl::memory::desc dst_md({g.batch, g.out_channels, g.outputHeight(), g.outputWidth()},
                                  dnnl::memory::data_type::bf16, Tag::nhwc);
  const dnnl::memory::desc power_md({1, 1, 1, 1}, dnnl::memory::data_type::f32, Tag::nhwc);  // broadcast
  dnnl::post_ops grid_multiply;
  grid_multiply.append_binary(dnnl::algorithm::binary_mul, power_md);
  state->ops = epilogueOps(epilogue, dst_md, &state->residual_arg, grid_multiply);
  state->grid_power = dnnl::memory(power_md, engine);
  if (bias) state->scaled_bias = dnnl::memory({{g.out_channels}, dnnl::memory::data_type::f32, Tag::a}, engine);
  impl->dst = dnnl::memory(dst_md, engine, nullptr);
  if (state->residual_arg) {
    impl->residual = dnnl::memory(dst_md, engine, nullptr);
    impl->takes_residual = true;
  }
  impl->int8 = std::move(state);
  // The u8 one made now: a problem oneDNN refuses throws here, not in a run. The s8 one waits for a
  // source below zero (sources after a ReLU never have one).
  impl->int8Variant(/*is_signed=*/false);
  return std::unique_ptr<OneDnnConv>(new OneDnnConv(std::move(impl)));
}

std::string OneDnnConv::implementation() const {
  if (impl_->int8) return impl_->int8->variants[0]->description.impl_info_str();  // the u8 source's
  return impl_->description.impl_info_str();
}

int OneDnnConv::primitiveCount() const {
  if (!impl_->int8) return 1;
  return (impl_->int8->variants[0] ? 1 : 0) + (impl_->int8->variants[1] ? 1 : 0);
}

bool OneDnnConv::available() { return enabled; }

bool OneDnnConv::int8Available() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
#else
  static const bool vnni = false;
#endif
  return enabled && vnni;
}

#else  // no oneDNN of our own: callers keep LibTorch's prepacked convolution

struct OneDnnConv::Impl {};

std::unique_ptr<OneDnnConv> OneDnnConv::make(const ConvGeometry&, ConvType, ActivationLayout, ConvEpilogue,
                                             const void*, const int64_t[4], const void*) {
  return nullptr;
}

void OneDnnConv::run(const void*, void*, const void*) { throw std::logic_error("OneDnnConv: built without oneDNN"); }

std::string OneDnnConv::implementation() const { return ""; }

int OneDnnConv::primitiveCount() const { return 0; }

bool OneDnnConv::available() { return false; }

bool OneDnnConv::int8Available() { return false; }

#endif

OneDnnConv::OneDnnConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OneDnnConv::~OneDnnConv() = default;

}  // namespace derain::detail
