#include "training/sample_grid.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "derain/error.hpp"
#include "training/atomic_file.h"
#include "tensor_image.h"

namespace derain::detail {

namespace {
constexpr int kLabelHeight = 18;

// 1 x 3 x H x W in [-1, 1] or 1 x 1 x H x W mask -> 8-bit BGR tile.
cv::Mat tileOf(const at::Tensor& t) {
  at::Tensor cpu = t.detach().to(torch::kCPU, torch::kFloat32);
  if (cpu.size(1) == 3) return tensorToImage(cpu, CV_8UC3, ColorOrder::BGR);
  at::Tensor grey = cpu.clamp(0.0, 1.0).mul(255.0).round().to(torch::kUInt8)[0][0].contiguous();
  cv::Mat single(static_cast<int>(grey.size(0)), static_cast<int>(grey.size(1)), CV_8UC1, grey.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(single, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}
}  // namespace

cv::Mat makeSampleGrid(const StepImages& images) {
  if (!images.rainy.defined()) throw Error("sample grid: no training step has run yet");
  const at::Tensor* tiles[2][3] = {{&images.rainy, &images.att_rainy, &images.derained},
                                   {&images.clean, &images.att_clean, &images.rainmade}};
  const char* labels[2][3] = {{"r", "Att(r)", "n_r"}, {"n", "Att(n)", "r_n"}};
  const int h = static_cast<int>(images.rainy.size(2)), w = static_cast<int>(images.rainy.size(3));
  cv::Mat grid(2 * (h + kLabelHeight), 3 * w, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int row = 0; row < 2; ++row)
    for (int col = 0; col < 3; ++col) {
      const int y = row * (h + kLabelHeight);
      tileOf(*tiles[row][col]).copyTo(grid(cv::Rect(col * w, y + kLabelHeight, w, h)));
      cv::putText(grid, labels[row][col], {col * w + 3, y + kLabelHeight - 5}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                  cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  return grid;
}

void writeSampleGrid(const StepImages& images, const std::string& path) {
  const cv::Mat grid = makeSampleGrid(images);
  replaceFileAtomically(path, [&](const std::string& temp) {
    if (!cv::imwrite(temp, grid)) throw Error("cannot write the sample image '" + path + "'");
  });
}

}  // namespace derain::detail
