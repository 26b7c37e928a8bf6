// The generator's result on the regions the temporal fusion could not clean (see regional_derain.h).
#include "video/regional_derain.h"

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "video/pixel_rounding.h"

namespace derain::detail {

namespace {
// Marks are counted on a grid of cells; a cell needs the generator when this share of it is marked (a few
// stray pixels are not worth a generator pass; a streak or two are).
constexpr int kCellPixels = 32;
constexpr double kCellShare = 0.04;
constexpr int kFeatherPixels = 6;  // the generator's result fades in over this many pixels
}  // namespace

double blendGeneratedRegions(const cv::Mat& frame, const cv::Mat& generated, const cv::Mat& mask, cv::Mat& out) {
  cv::Mat cells, marks;
  cv::resize(mask, cells, {(mask.cols + kCellPixels - 1) / kCellPixels, (mask.rows + kCellPixels - 1) / kCellPixels}, 0,
             0, cv::INTER_AREA);
  cv::resize(cells > kCellShare * 255.0, marks, mask.size(), 0, 0, cv::INTER_NEAREST);
  if (cv::countNonZero(marks) == 0) {
    out = frame.clone();
    return 0.0;
  }
  // Weight: 1 on the grown marks, fading to 0 over the feather.
  cv::Mat weight;
  cv::dilate(marks, weight, cv::getStructuringElement(cv::MORPH_RECT, {kFeatherPixels + 1, kFeatherPixels + 1}));
  weight.convertTo(weight, CV_32F, 1.0 / 255.0);
  cv::blur(weight, weight, {kFeatherPixels + 1, kFeatherPixels + 1});
  out.create(frame.size(), CV_8UC3);
  cv::parallel_for_(cv::Range(0, frame.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint8_t* f = frame.ptr<uint8_t>(y);
      const uint8_t* g = generated.ptr<uint8_t>(y);
      const float* w = weight.ptr<float>(y);
      uint8_t* o = out.ptr<uint8_t>(y);
      for (int x = 0; x < frame.cols; ++x) {
        if (w[x] == 0.0f) {  // most of the frame: the fused pixel as it is (what the blend would give)
          o[3 * x] = f[3 * x], o[3 * x + 1] = f[3 * x + 1], o[3 * x + 2] = f[3 * x + 2];
          continue;
        }
        for (int c = 0; c < 3; ++c) {
          const int i = 3 * x + c;
          o[i] = roundLevel(f[i] + w[x] * (g[i] - f[i]));
        }
      }
    }
  });
  return cv::mean(weight)[0];
}

}  // namespace derain::detail
