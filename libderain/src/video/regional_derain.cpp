// Generator on the regions the temporal fusion could not clean (see regional_derain.h).
#include "video/regional_derain.h"

#include <algorithm>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace derain::detail {

namespace {

// Marks are counted on a grid of cells; a cell needs the generator when this share of it is marked (a
// few stray pixels are not worth a generator pass; a streak or two are).
constexpr int kCellPixels = 32;
constexpr double kCellShare = 0.04;
constexpr int kFeatherPixels = 6;    // the generator's result fades in over this many pixels
constexpr int kContextPixels = 32;   // context around a region (G_N's receptive field, feather included)
constexpr int kMaxRegions = 8;       // more separate regions than this: one box around all of them
constexpr double kWholeFrameShare = 0.6;  // boxes covering more than this of the frame: derain it whole

std::vector<cv::Rect> regionBoxes(const cv::Mat& mask, cv::Size frame) {
  cv::Mat grown, labels, boxes, centroids;
  cv::dilate(mask, grown, cv::getStructuringElement(cv::MORPH_RECT, {2 * kContextPixels + 1, 2 * kContextPixels + 1}));
  const int n = cv::connectedComponentsWithStats(grown, labels, boxes, centroids, 8, CV_32S);
  std::vector<cv::Rect> out;
  for (int i = 1; i < n; ++i)
    out.emplace_back(boxes.at<int>(i, cv::CC_STAT_LEFT), boxes.at<int>(i, cv::CC_STAT_TOP),
                     boxes.at<int>(i, cv::CC_STAT_WIDTH), boxes.at<int>(i, cv::CC_STAT_HEIGHT));
  // Boxes of separate components may still overlap: merge until none does.
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < out.size() && !merged; ++i)
      for (size_t j = i + 1; j < out.size() && !merged; ++j)
        if ((out[i] & out[j]).area() > 0) {
          out[i] |= out[j];
          out.erase(out.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
        }
  }
  int64_t area = 0;
  cv::Rect all;
  for (const cv::Rect& r : out) {
    area += r.area();
    all = all.area() ? (all | r) : r;
  }
  const cv::Rect whole(0, 0, frame.width, frame.height);
  if (static_cast<double>(area) > kWholeFrameShare * whole.area()) return {whole};
  if (static_cast<int>(out.size()) > kMaxRegions) return {all & whole};
  return out;
}

}  // namespace

double derainRegions(Engine& engine, const cv::Mat& frame, const cv::Mat& mask, ColorOrder order, cv::Mat& out) {
  cv::Mat cells, marks;
  cv::resize(mask, cells, {(mask.cols + kCellPixels - 1) / kCellPixels, (mask.rows + kCellPixels - 1) / kCellPixels}, 0,
             0, cv::INTER_AREA);
  cv::resize(cells > kCellShare * 255.0, marks, mask.size(), 0, 0, cv::INTER_NEAREST);
  if (cv::countNonZero(marks) == 0) {
    out = frame.clone();
    return 0.0;
  }
  const std::vector<cv::Rect> boxes = regionBoxes(marks, frame.size());
  cv::Mat generated = frame.clone();
  int64_t area = 0;
  for (const cv::Rect& box : boxes) {
    cv::Mat derained;
    engine.derain(frame(box), derained, order);
    derained.copyTo(generated(box));
    area += box.area();
  }
  // Weight: 1 on the grown marks, fading to 0 over the feather; the boxes hold the context beyond it.
  cv::Mat weight;
  cv::dilate(marks, weight, cv::getStructuringElement(cv::MORPH_RECT, {kFeatherPixels + 1, kFeatherPixels + 1}));
  weight.convertTo(weight, CV_32F, 1.0 / 255.0);
  cv::blur(weight, weight, {kFeatherPixels + 1, kFeatherPixels + 1});
  out.create(frame.size(), CV_8UC3);
  for (int y = 0; y < frame.rows; ++y) {
    const uint8_t* f = frame.ptr<uint8_t>(y);
    const uint8_t* g = generated.ptr<uint8_t>(y);
    const float* w = weight.ptr<float>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < frame.cols; ++x)
      for (int c = 0; c < 3; ++c) {
        const int i = 3 * x + c;
        o[i] = static_cast<uint8_t>(std::lround(f[i] + w[x] * (g[i] - f[i])));
      }
  }
  return static_cast<double>(area) / static_cast<double>(frame.total());
}

}  // namespace derain::detail
