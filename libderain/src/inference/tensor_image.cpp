#include "tensor_image.h"
#include "bf16_rounding.h"
#include "branch_free.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <torch/torch.h>

#include "derain/error.hpp"
#include "parallel_for.h"
#include "simd_clones.h"

namespace derain::detail {

namespace {
constexpr double kByteHalfRange = 127.5;  // maps 0..255 onto [-1, 1]
constexpr int kColourChannels = 3;
constexpr int64_t kRowsPerTask = 8;  // rows per parallel task: enough work to pay for a task

// The byte conversion rounds with roundHalfEven (branch_free.h; std::nearbyint's libm call per value
// cost ~0.5 % of a lite frame): its values lie in [0, 255].

// clamp to [-1, 1] on values, branch-free (branch_free.h).
inline float clampUnit(float v) { return lesser(greater(v, -1.0f), 1.0f); }

void checkColourImage(const cv::Mat& image) {
  if (image.empty()) throw Error("empty image");
  if (image.type() != CV_8UC3 && image.type() != CV_32FC3)
    throw Error("expected an 8-bit or float 3-channel image (CV_8UC3 / CV_32FC3), got type " +
                std::to_string(image.type()) + " with " + std::to_string(image.channels()) + " channel(s)");
}

// One pass from the image to the tensor, with the arithmetic of LibTorch's operators it replaces
// (to(float).div(127.5).sub(1.0) for bytes, mul(2.0).sub(1.0) for floats: one float rounding each),
// so the result is the same bit for bit; rows and columns past the image repeat its last ones
// (replicate padding). T: float or c10::BFloat16 (rounded once, as .to(kBFloat16) did).
template <typename Pixel>
inline float networkValue(Pixel v) {
  if constexpr (std::is_same_v<Pixel, uint8_t>)
    return static_cast<float>(v) / static_cast<float>(kByteHalfRange) - 1.0f;
  else
    return v * 2.0f - 1.0f;
}

// One row; the channel order is a template parameter and the replicated columns a separate loop,
// so the pixel loop has no per-pixel branch or clamp and vectorises.
template <typename Pixel, typename T, bool kSwap>
inline __attribute__((always_inline)) void networkRow(const Pixel* src, int64_t cols, T* dst, int64_t width) {
  constexpr int kFirst = kSwap ? 2 : 0, kLast = 2 - kFirst;
  const int64_t inside = std::min(width, cols);
  for (int64_t x = 0; x < inside; ++x) {
    const Pixel* p = src + x * kColourChannels;
    T* d = dst + x * kColourChannels;
    d[0] = storedAs<T>(networkValue(p[kFirst]));
    d[1] = storedAs<T>(networkValue(p[1]));
    d[2] = storedAs<T>(networkValue(p[kLast]));
  }
  for (int64_t x = inside; x < width; ++x)
    for (int c = 0; c < kColourChannels; ++c) dst[x * kColourChannels + c] = dst[(inside - 1) * kColourChannels + c];
}

// Rows [begin, end) of the tensor. Its clones per instruction set (simd_clones.h) are plain
// overloads: the last parameter, always null, only selects the pixel type.
template <typename Pixel, typename T>
inline __attribute__((always_inline)) void networkRows(const cv::Mat& image, bool bgr, T* out, int64_t width,
                                                       int64_t begin, int64_t end) {
  for (int64_t y = begin; y < end; ++y) {
    const Pixel* src = image.ptr<Pixel>(static_cast<int>(std::min<int64_t>(y, image.rows - 1)));
    T* dst = out + y * width * kColourChannels;
    if (bgr)
      networkRow<Pixel, T, true>(src, image.cols, dst, width);
    else
      networkRow<Pixel, T, false>(src, image.cols, dst, width);
  }
}

#define DERAIN_NETWORK_ROWS(Pixel, T)                                                                                \
  DERAIN_SIMD_CLONES void networkRowsClone(const cv::Mat& image, bool bgr, T* out, int64_t width, int64_t begin,     \
                                           int64_t end, const Pixel*) {                                              \
    networkRows<Pixel, T>(image, bgr, out, width, begin, end);                                                       \
  }
DERAIN_NETWORK_ROWS(uint8_t, float)
DERAIN_NETWORK_ROWS(uint8_t, c10::BFloat16)
DERAIN_NETWORK_ROWS(float, float)
DERAIN_NETWORK_ROWS(float, c10::BFloat16)
#undef DERAIN_NETWORK_ROWS

template <typename Pixel, typename T>
void fillNetworkTensor(const cv::Mat& image, ColorOrder order, T* out, int64_t height, int64_t width) {
  const bool bgr = order == ColorOrder::BGR;
  parallelFor(0, height, kRowsPerTask, [&](int64_t begin, int64_t end) {
    networkRowsClone(image, bgr, out, width, begin, end, static_cast<const Pixel*>(nullptr));
  });
}
}  // namespace

at::Tensor networkTensor(const cv::Mat& image, ColorOrder order, int multiple, at::ScalarType dtype) {
  checkColourImage(image);
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) throw Error("network tensors are fp32 or bf16");
  const int64_t height = (image.rows + multiple - 1) / multiple * multiple;
  const int64_t width = (image.cols + multiple - 1) / multiple * multiple;
  auto out = torch::empty({1, kColourChannels, height, width},
                          torch::TensorOptions().dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const bool bytes = image.depth() == CV_8U;
  if (dtype == torch::kFloat32) {
    if (bytes) fillNetworkTensor<uint8_t>(image, order, out.data_ptr<float>(), height, width);
    else fillNetworkTensor<float>(image, order, out.data_ptr<float>(), height, width);
  } else {
    if (bytes) fillNetworkTensor<uint8_t>(image, order, out.data_ptr<c10::BFloat16>(), height, width);
    else fillNetworkTensor<float>(image, order, out.data_ptr<c10::BFloat16>(), height, width);
  }
  return out;
}

at::Tensor imageToTensor(const cv::Mat& image, ColorOrder order) {
  return networkTensor(image, order, 1, torch::kFloat32);
}

namespace {
// One pass from a 3-channel float tensor to the image, with the arithmetic of the operators it
// replaces: clamp(-1, 1), then +1 and *127.5 and round-half-even (bytes) or +1 and *0.5.
template <typename Pixel>
inline Pixel imageValue(float v) {
  v = clampUnit(v);
  if constexpr (std::is_same_v<Pixel, uint8_t>)
    return static_cast<uint8_t>(roundHalfEven((v + 1.0f) * static_cast<float>(kByteHalfRange)));
  else
    return (v + 1.0f) * 0.5f;
}

// One row of a dense channels_last tensor (the engine's output), the channel order a template
// parameter as in networkRow, so the loop vectorises.
template <typename Pixel, typename T, bool kSwap>
inline __attribute__((always_inline)) void denseImageRow(const T* row, Pixel* dst, int64_t cols) {
  constexpr int kFirst = kSwap ? 2 : 0, kLast = 2 - kFirst;
  for (int64_t x = 0; x < cols; ++x) {
    const T* p = row + x * kColourChannels;
    Pixel* d = dst + x * kColourChannels;
    d[kFirst] = imageValue<Pixel>(static_cast<float>(p[0]));
    d[1] = imageValue<Pixel>(static_cast<float>(p[1]));
    d[kLast] = imageValue<Pixel>(static_cast<float>(p[2]));
  }
}

// Rows [begin, end) from a tensor whose pixel steps are sx and channel step sc (any strides; dense
// channels_last rows go through denseImageRow). Cloned like networkRows.
template <typename Pixel, typename T>
inline __attribute__((always_inline)) void imageRows(const T* data, int64_t sc, int64_t sy, int64_t sx, bool bgr,
                                                     cv::Mat& image, int64_t begin, int64_t end) {
  const int first = bgr ? 2 : 0, last = 2 - first;
  for (int64_t y = begin; y < end; ++y) {
    Pixel* dst = image.ptr<Pixel>(static_cast<int>(y));
    const T* row = data + y * sy;
    if (sc == 1 && sx == kColourChannels) {
      if (bgr)
        denseImageRow<Pixel, T, true>(row, dst, image.cols);
      else
        denseImageRow<Pixel, T, false>(row, dst, image.cols);
      continue;
    }
    for (int64_t x = 0; x < image.cols; ++x) {
      dst[x * kColourChannels + first] = imageValue<Pixel>(static_cast<float>(row[x * sx]));
      dst[x * kColourChannels + 1] = imageValue<Pixel>(static_cast<float>(row[x * sx + sc]));
      dst[x * kColourChannels + last] = imageValue<Pixel>(static_cast<float>(row[x * sx + 2 * sc]));
    }
  }
}

#define DERAIN_IMAGE_ROWS(Pixel, T)                                                                                  \
  DERAIN_SIMD_CLONES void imageRowsClone(const T* data, int64_t sc, int64_t sy, int64_t sx, bool bgr,                \
                                         cv::Mat& image, int64_t begin, int64_t end, Pixel*) {                       \
    imageRows<Pixel, T>(data, sc, sy, sx, bgr, image, begin, end);                                                   \
  }
DERAIN_IMAGE_ROWS(uint8_t, float)
DERAIN_IMAGE_ROWS(uint8_t, c10::BFloat16)
DERAIN_IMAGE_ROWS(float, float)
DERAIN_IMAGE_ROWS(float, c10::BFloat16)
#undef DERAIN_IMAGE_ROWS

template <typename Pixel, typename T>
void fillImage(const at::Tensor& t, ColorOrder order, cv::Mat& image) {
  const T* data = t.data_ptr<T>();
  const int64_t sc = t.stride(1), sy = t.stride(2), sx = t.stride(3);
  const bool bgr = order == ColorOrder::BGR;
  parallelFor(0, image.rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
    imageRowsClone(data, sc, sy, sx, bgr, image, begin, end, static_cast<Pixel*>(nullptr));
  });
}
}  // namespace

cv::Mat tensorToImage(const at::Tensor& tensor, int type, ColorOrder order) {
  // bf16 is read as it is (widening is exact): a separate conversion to float cost ~6 % of a 640x360
  // lite bf16 frame (LibTorch's copy of the padded, strided tile).
  auto t = tensor.detach().to(torch::kCPU);
  if (t.scalar_type() != torch::kBFloat16) t = t.to(torch::kFloat32);
  const int height = static_cast<int>(t.size(2)), width = static_cast<int>(t.size(3));
  if (t.size(1) == 1) {
    cv::Mat mask(height, width, CV_32FC1);
    // Converted straight into the Mat: one pass, whatever the tensor's strides and dtype.
    torch::from_blob(mask.data, {height, width}, torch::kFloat32).copy_(t[0][0]);
    return mask;
  }
  if (type != CV_8UC3 && type != CV_32FC3) throw Error("unsupported output type " + std::to_string(type));
  cv::Mat image(height, width, type);
  const bool bf16 = t.scalar_type() == torch::kBFloat16;
  if (type == CV_8UC3)
    bf16 ? fillImage<uint8_t, c10::BFloat16>(t, order, image) : fillImage<uint8_t, float>(t, order, image);
  else
    bf16 ? fillImage<float, c10::BFloat16>(t, order, image) : fillImage<float, float>(t, order, image);
  return image;
}

}  // namespace derain::detail
