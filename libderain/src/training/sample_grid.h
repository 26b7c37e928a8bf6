// The sample image of a training step: top row r, Att(r), n_r (the deraining branch), bottom row
// n, Att(n), r_n (the rainmaking branch), each labelled. Masks are shown as grey, clamped to [0, 1].
#pragma once

#include <string>

#include <opencv2/core.hpp>

#include "training/trainer.h"

namespace derain::detail {

// 8-bit BGR image, 2 rows x 3 tiles of the crop size (plus a label strip above each tile).
cv::Mat makeSampleGrid(const StepImages& images);
// Throws derain::Error if the PNG cannot be written.
void writeSampleGrid(const StepImages& images, const std::string& path);

}  // namespace derain::detail
