#include "image_channels.h"

#include <string>

#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
constexpr double k16BitMax = 65535.0;
}

void checkNetworkImage(const cv::Mat& image) {
  if (image.empty()) throw Error("empty image");
  if (image.dims != 2) throw Error("image has " + std::to_string(image.dims) + " dimensions; expected 2");
  const int depth = image.depth();
  if (depth != CV_8U && depth != CV_16U && depth != CV_32F)
    throw Error("unsupported image depth " + std::to_string(depth) +
                " (expected CV_8U 0..255, CV_16U 0..65535 or CV_32F 0..1)");
  const int channels = image.channels();
  if (channels != 1 && channels != 3 && channels != 4)
    throw Error("image has " + std::to_string(channels) +
                " channels; expected 1 (grey), 3 (colour) or 4 (colour + alpha)");
}

cv::Mat networkColour(const cv::Mat& src) {
  checkNetworkImage(src);
  cv::Mat colour;
  switch (src.channels()) {
    case 1: cv::cvtColor(src, colour, cv::COLOR_GRAY2BGR); break;
    case 4: cv::cvtColor(src, colour, cv::COLOR_BGRA2BGR); break;  // drops the 4th channel of RGBA too
    default: colour = src; break;
  }
  if (colour.depth() == CV_16U) colour.convertTo(colour, CV_32F, 1.0 / k16BitMax);
  return colour;
}

cv::Mat restoreLayout(const cv::Mat& colour, const cv::Mat& src, ColorOrder order) {
  cv::Mat out = colour;
  if (src.channels() == 1)
    cv::cvtColor(out, out, order == ColorOrder::RGB ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  if (src.depth() == CV_16U) out.convertTo(out, CV_16U, k16BitMax);  // rounds and saturates
  if (src.channels() == 4) {
    cv::Mat with_alpha(src.size(), src.type());
    const cv::Mat sources[] = {out, src};
    const int from_to[] = {0, 0, 1, 1, 2, 2, 6, 3};  // colour 0..2 -> 0..2; src's alpha (3 + 3) -> 3
    cv::mixChannels(sources, 2, &with_alpha, 1, from_to, 4);
    out = with_alpha;
  }
  return out;
}

}  // namespace derain::detail
