// The generator where the temporal fusion left work: the frame's own G_N output (the frame-by-frame
// result, computed in the same network pass as the attention mask the fusion needs) blended in, with a
// feathered edge, only on the regions the neighbours could not vouch for (occlusions, frame borders the
// motion uncovered, moving objects). Pixels the fusion cleaned keep the fused value: G_N would only add its
// own small changes there (the shipped lite model moves a rain-free frame by ~39-40 dB PSNR).
// The generator runs on the whole frame, not on crops: the inference backend prepares its kernels per input
// shape, so crops of a new size every frame were measured several times slower than one full frame (and
// the lite G_N's colour shift differs between a crop and the whole frame, which showed as patches).
#pragma once

#include <opencv2/core.hpp>

namespace derain::detail {

// fused, generated: CV_8UC3 of one size; mask: CV_8UC1, non-zero = needs the generator. Writes `out`
// (may not alias `fused`) and returns the fraction of the frame's area blended from `generated`.
double blendGeneratedRegions(const cv::Mat& fused, const cv::Mat& generated, const cv::Mat& mask, cv::Mat& out);

}  // namespace derain::detail
