#include "nets/onednn_conv.h"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

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
}  // namespace

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
};

std::unique_ptr<OneDnnConv> OneDnnConv::make(const ConvGeometry& g, ConvType type, ActivationLayout layout,
                                             ConvEpilogue epilogue, const void* weight,
                                             const int64_t weight_strides[4], const void* bias) {
  if (!available()) return nullptr;
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

  dnnl::post_ops ops;
  int residual_arg = 0;
  if (epilogue.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  if (epilogue.add_relu) {
    if (epilogue.in_place) {
      ops.append_sum(1.0f);
    } else {
      residual_arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(ops.len()) | DNNL_ARG_SRC_1;
      ops.append_binary(dnnl::algorithm::binary_add, dst_md);
    }
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  }
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
  m.src.set_data_handle(const_cast<void*>(src));
  m.dst.set_data_handle(dst);
  if (m.takes_residual) m.residual.set_data_handle(const_cast<void*>(residual));
  m.primitive.execute(m.stream, m.args);
  m.stream.wait();
}

std::string OneDnnConv::implementation() const { return impl_->description.impl_info_str(); }

bool OneDnnConv::available() { return enabled; }

#else  // no oneDNN of our own: callers keep LibTorch's prepacked convolution

struct OneDnnConv::Impl {};

std::unique_ptr<OneDnnConv> OneDnnConv::make(const ConvGeometry&, ConvType, ActivationLayout, ConvEpilogue,
                                             const void*, const int64_t[4], const void*) {
  return nullptr;
}

void OneDnnConv::run(const void*, void*, const void*) { throw std::logic_error("OneDnnConv: built without oneDNN"); }

std::string OneDnnConv::implementation() const { return ""; }

bool OneDnnConv::available() { return false; }

#endif

OneDnnConv::OneDnnConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OneDnnConv::~OneDnnConv() = default;

}  // namespace derain::detail
