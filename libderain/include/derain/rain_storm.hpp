// A second rain model, deliberately unlike the procedural renderer the models train with
// (derain/rain.hpp): heavy rain seen through depth, for evaluating derainers on rain they were not
// trained on (models/README.md, "Rain unlike the training renderer"). Drawn from one seed:
//   1. far layer: dense, short, thin streaks, defocused (Gaussian blur, sigma 1.2-2) and dim;
//   2. near layer: few long, wide streaks (width 3-6 px, beyond the training range's 2.2), defocused
//      (sigma 1.5-3), the brightest rain in the picture;
//   3. splashes: small, flat, dim ellipses (1.6-4 px wide) where drops hit the ground (lower half);
//   4. a veil that grows toward the top of the frame (farther away): B' = (1 - h(y)) B + h(y) 0.85,
//      h from h_bottom in [0.02, 0.08] at the bottom row to h_top in [0.12, 0.3] at the top row;
//   5. additive, clipped: O = min(1, B' + far + near + splashes), the same on every colour channel, and
//      never below the input (the veil would pull pixels brighter than 0.85 down: they keep their value).
// Every layer adds light, so no output pixel is darker than the input's. Same seed, same bytes.
// Torch-free.
#pragma once

#include <cstdint>

#include <opencv2/core.hpp>

#include "derain/export.hpp"

namespace derain {

// src: CV_8UC3 (any channel order: the rain is grey). dst gets src's size and type; src and dst may be
// the same Mat. Throws derain::Error on an empty image or another type.
DERAIN_API void addStormRain(const cv::Mat& src, cv::Mat& dst, uint64_t seed);

}  // namespace derain
