// A generated street scene (sky, buildings with windows, road, cars): test and demo input that needs
// no downloaded images. Deterministic for a seed.
#pragma once

#include "derain/export.hpp"

#include <cstdint>

#include <opencv2/core.hpp>

namespace derain {

// CV_8UC3 BGR image of `size` (any size >= 1x1).
DERAIN_API cv::Mat makeDemoScene(cv::Size size, uint64_t seed = 0);

}  // namespace derain
