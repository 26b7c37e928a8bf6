// A 2-D convolution run through oneDNN's own API: the library, and the convolution kernels, that
// LibTorch's CPU convolutions use. It exists for what LibTorch's prepacked convolution ops cannot do:
// add a residual inside the convolution's store (oneDNN's sum or binary post-op), so a residual
// block's "ReLU(conv(x)) + x, ReLU" is one pass over the activations instead of two; run a band of
// rows with the padding only where the image has its border (PackedConv2d::forwardInBands); and
// skip LibTorch's per-call dispatch. Weights are packed once, when it is made; the scratchpad is its
// own, so instances in different threads never share one. Torch-free on purpose: raw pointers and
// sizes (the caller owns the tensors).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace derain::detail {

struct ConvGeometry {
  int64_t batch = 1, in_channels = 0, out_channels = 0, height = 0, width = 0;  // input
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t pad_bottom = -1;                 // rows of zeros below the input; -1: pad_h, as above it
  int64_t dilation_h = 1, dilation_w = 1;  // 1 = none (LibTorch's convention)
  int64_t padBottom() const { return pad_bottom < 0 ? pad_h : pad_bottom; }
  int64_t outputHeight() const {
    return (height + pad_h + padBottom() - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  }
  int64_t outputWidth() const { return (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
};

// F32, BF16: source, weights, bias and destination alike. Int8 (precision int8): source, residual
// and destination bf16, weights and bias given in bf16 too, but the sums in 8-bit integers: the
// weights rounded to s8 once, per output channel; the source per run, on the grid its range picks
// (int8_quantise.h), into a buffer of the running thread's. NHWC only.
enum class ConvType { F32, BF16, Int8 };
enum class ActivationLayout { NCHW, NHWC };  // source, destination and residual alike

// What the store does with the convolution's sum (bias included), in this order:
// relu: ReLU; add_relu: + the residual tensor, then ReLU. in_place: the residual is read from the
// destination itself (oneDNN's sum post-op), which oneDNN's fastest kernels take, where a separate
// residual tensor (its binary post-op) sends bf16 to a slower one.
struct ConvEpilogue {
  bool relu = false;
  bool add_relu = false;
  bool in_place = false;
  bool operator==(const ConvEpilogue& o) const {
    return relu == o.relu && add_relu == o.add_relu && in_place == o.in_place;
  }
};

class OneDnnConv {
 public:
  // nullptr where this build has no oneDNN of its own (available() false); throws on a shape
  // oneDNN refuses. weight: [out, in, kh, kw] with the given element strides; bias may be null.
  static std::unique_ptr<OneDnnConv> make(const ConvGeometry& geometry, ConvType type, ActivationLayout layout,
                                          ConvEpilogue epilogue, const void* weight,
                                          const int64_t weight_strides[4], const void* bias);
  // Whether this build calls oneDNN's API itself and it is in use (make() then never returns null).
  static bool available();
  // Whether ConvType::Int8 runs here at integer speed: available() and a CPU with AVX-512 VNNI
  // (or AMX), whose dot-product instructions make 8-bit sums twice as fast as bf16 ones. Elsewhere
  // oneDNN's int8 kernels exist but are slower than its bf16 or fp32 ones.
  static bool int8Available();
  // Tests: false makes available() false, so callers take their LibTorch path (a build without
  // oneDNN's API takes it always); true restores it where the build has the API.
  static void setEnabled(bool enabled);
  ~OneDnnConv();
  OneDnnConv(const OneDnnConv&) = delete;
  OneDnnConv& operator=(const OneDnnConv&) = delete;

  // dst: [batch, out, outputHeight, outputWidth] in the layout; residual: the same shape (add_relu
  // only; null with in_place, where dst holds it on entry). Not reentrant: one call at a time per
  // instance (its scratchpad).
  void run(const void* src, void* dst, const void* residual);
  // oneDNN's name for the kernel it chose, e.g. "brgconv:avx512_core_amx_bf16" (int8: for a u8 source).
  std::string implementation() const;
  // The oneDNN convolutions it holds: 1, or for int8 one per source sign seen (u8 from the start, s8
  // after a source below zero); never one per grid.
  int primitiveCount() const;

  // Benchmarks: while set, every run() in the process first calls observer(geometry, context), so a
  // tool can list the convolutions of a frame as they run (derain-int8-probe). Null stops it. Set it
  // only while no engine runs.
  using RunObserver = void (*)(const ConvGeometry& geometry, void* context);
  static void setRunObserver(RunObserver observer, void* context);

 private:
  struct Impl;
  explicit OneDnnConv(std::unique_ptr<Impl> impl);
  static std::unique_ptr<OneDnnConv> makeInt8(const ConvGeometry& geometry, ActivationLayout layout,
                                              ConvEpilogue epilogue, const void* weight,
                                              const int64_t weight_strides[4], const void* bias);
  std::unique_ptr<Impl> impl_;
};

}  // namespace derain::detail
