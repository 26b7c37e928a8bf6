// No-reference change figures (see derain/colour_change.hpp).
#include "derain/colour_change.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "derain/error.hpp"

namespace derain {

double ColourChange::spread() const {
  return std::max({shift_r, shift_g, shift_b}) - std::min({shift_r, shift_g, shift_b});
}

ColourChange colourChange(const cv::Mat& input, const cv::Mat& output, ColorOrder order, double threshold_levels) {
  if (input.empty() || input.type() != CV_8UC3 || output.type() != CV_8UC3)
    throw Error("colourChange: input and output must be 8-bit 3-channel images");
  if (input.size() != output.size())
    throw Error("colourChange: input is " + std::to_string(input.cols) + "x" + std::to_string(input.rows) +
                " but output is " + std::to_string(output.cols) + "x" + std::to_string(output.rows));
  // Integer sums: exact whatever the image size.
  int64_t sum[3] = {0, 0, 0}, changed = 0;
  const int threshold = static_cast<int>(threshold_levels);  // changes are whole levels: > t  <=>  > floor(t)
  for (int y = 0; y < input.rows; ++y) {
    const uint8_t* in = input.ptr<uint8_t>(y);
    const uint8_t* out = output.ptr<uint8_t>(y);
    for (int x = 0; x < input.cols; ++x) {
      int largest = 0;
      for (int c = 0; c < 3; ++c) {
        const int d = out[3 * x + c] - in[3 * x + c];
        sum[c] += d;
        largest = std::max(largest, std::abs(d));
      }
      changed += largest > threshold;
    }
  }
  const double n = static_cast<double>(input.total());
  ColourChange change;
  const int r = order == ColorOrder::BGR ? 2 : 0, b = 2 - r;
  change.shift_r = static_cast<double>(sum[r]) / n;
  change.shift_g = static_cast<double>(sum[1]) / n;
  change.shift_b = static_cast<double>(sum[b]) / n;
  change.changed_share = static_cast<double>(changed) / n;
  return change;
}

}  // namespace derain
