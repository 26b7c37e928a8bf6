// How deraining changed an image where there is no ground truth (real rain): the mean shift of each
// colour channel, their spread, and the share of pixels changed visibly. Removing rain darkens every
// channel alike (rain is achromatic and only brightens); channels shifting differently are a tint, and
// a large changed share on a rain-free image is damage. Torch-free.
#pragma once

#include <opencv2/core.hpp>

#include "derain/export.hpp"
#include "derain/types.hpp"

namespace derain {

// A pixel counts as changed when one of its channels moved by more than this many 8-bit levels.
constexpr double kVisibleChangeLevels = 8.0;

struct ColourChange {
  double shift_r = 0.0, shift_g = 0.0, shift_b = 0.0;  // mean of output - input per channel, in levels
  double changed_share = 0.0;                           // fraction of pixels changed by > the threshold
  // Largest minus smallest channel shift: 0 for a change that is the same in every channel.
  DERAIN_API double spread() const;
};

// input, output: CV_8UC3 of the same size, channels in `order`. Throws derain::Error otherwise.
DERAIN_API ColourChange colourChange(const cv::Mat& input, const cv::Mat& output, ColorOrder order = ColorOrder::BGR,
                                     double threshold_levels = kVisibleChangeLevels);

}  // namespace derain
