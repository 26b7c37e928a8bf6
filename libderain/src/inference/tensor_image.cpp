#include "tensor_image.h"

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
constexpr double kByteHalfRange = 127.5;  // maps 0..255 onto [-1, 1]
}

at::Tensor imageToTensor(const cv::Mat& image, ColorOrder order) {
  if (image.empty()) throw Error("empty image");
  if (image.type() != CV_8UC3 && image.type() != CV_32FC3)
    throw Error("expected an 8-bit or float 3-channel image (CV_8UC3 / CV_32FC3), got type " +
                std::to_string(image.type()) + " with " + std::to_string(image.channels()) + " channel(s)");
  cv::Mat continuous = image.isContinuous() ? image : image.clone();
  const bool bytes = image.depth() == CV_8U;
  // H x W x 3 in memory is exactly channels_last 1 x 3 x H x W once permuted: no copy until .to().
  auto hwc = torch::from_blob(continuous.data, {continuous.rows, continuous.cols, 3},
                              bytes ? torch::kUInt8 : torch::kFloat32);
  auto x = hwc.permute({2, 0, 1}).unsqueeze(0);
  if (order == ColorOrder::BGR) x = x.flip({1});
  x = bytes ? x.to(torch::kFloat32).div(kByteHalfRange).sub(1.0) : x.mul(2.0).sub(1.0);
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

cv::Mat tensorToImage(const at::Tensor& tensor, int type, ColorOrder order) {
  auto t = tensor.detach().to(torch::kCPU, torch::kFloat32);
  const int height = static_cast<int>(t.size(2)), width = static_cast<int>(t.size(3));
  if (t.size(1) == 1) {
    auto hw = t[0][0].contiguous();
    cv::Mat mask(height, width, CV_32FC1);
    std::memcpy(mask.data, hw.data_ptr<float>(), sizeof(float) * height * width);
    return mask;
  }
  if (order == ColorOrder::BGR) t = t.flip({1});
  auto hwc = t[0].permute({1, 2, 0}).clamp(-1.0, 1.0);
  at::Tensor out;
  if (type == CV_8UC3)
    out = hwc.add(1.0).mul(kByteHalfRange).round().to(torch::kUInt8).contiguous();
  else if (type == CV_32FC3)
    out = hwc.add(1.0).mul(0.5).contiguous();
  else
    throw Error("unsupported output type " + std::to_string(type));
  cv::Mat image(height, width, type);
  std::memcpy(image.data, out.data_ptr(), out.numel() * out.element_size());
  return image;
}

at::Tensor padToMultiple(const at::Tensor& image, int multiple) {
  const int64_t h = image.size(2), w = image.size(3);
  const int64_t pad_h = (multiple - h % multiple) % multiple, pad_w = (multiple - w % multiple) % multiple;
  if (pad_h == 0 && pad_w == 0) return image;
  namespace F = torch::nn::functional;
  return F::pad(image, F::PadFuncOptions({0, pad_w, 0, pad_h}).mode(torch::kReplicate));
}

}  // namespace derain::detail
