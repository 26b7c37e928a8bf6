// The generator where the temporal fusion left work: G_N (Engine::derain) output blended in, with a
// feathered edge, only on the regions the neighbours could not vouch for (occlusions, frame borders the
// motion uncovered, moving objects). Pixels the fusion cleaned keep the fused value: G_N would only add its
// own small changes there (the shipped lite model moves a rain-free frame by ~39-40 dB PSNR), and a frame
// with nothing marked skips the generator altogether.
// The generator runs on the whole frame, not on crops: the inference backend prepares its kernels per input
// shape, so crops of a new size every frame were measured several times slower than one full frame (and
// the lite G_N's colour shift differs between a crop and the whole frame, which showed as patches).
#pragma once

#include <opencv2/core.hpp>

#include "derain/engine.hpp"

namespace derain::detail {

// frame: CV_8UC3; mask: CV_8UC1, non-zero = needs the generator. Writes `out` (may not alias `frame`) and
// returns the fraction of the frame's area blended from the generator (0 when it was not run).
double derainRegions(Engine& engine, const cv::Mat& frame, const cv::Mat& mask, ColorOrder order, cv::Mat& out);

}  // namespace derain::detail
