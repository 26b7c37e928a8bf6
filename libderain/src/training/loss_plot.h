// A PNG chart of the loss terms over the iterations, drawn with OpenCV: axes with ticks, one
// polyline per term (a running mean, as raw GAN losses are too noisy to read), and a legend.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "training/loss_log.h"

namespace derain::detail {

// The chart as an 8-bit BGR image of `size`. Throws derain::Error if `rows` is empty.
cv::Mat drawLossPlot(const std::vector<LossRow>& rows, cv::Size size = {1000, 600});
// Draws and writes it (atomically: temp file + rename). Throws derain::Error on failure.
void writeLossPlot(const std::vector<LossRow>& rows, const std::string& path);

}  // namespace derain::detail
