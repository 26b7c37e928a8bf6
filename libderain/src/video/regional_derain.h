// The generator where the temporal fusion left work: Engine::derain only on the regions the neighbours
// could not vouch for (occlusions, frame borders uncovered by the motion, moving objects), with enough
// context around them for the generator's receptive field, blended back with a feathered edge. Pixels the
// fusion cleaned are not run through G_N again (it would only add its own small changes), and the cost of
// the generator follows the uncovered area.
#pragma once

#include <opencv2/core.hpp>

#include "derain/engine.hpp"

namespace derain::detail {

// frame: CV_8UC3; mask: CV_8UC1, non-zero = needs the generator. Writes `out` (may not alias `frame`) and
// returns the fraction of the frame's area that went through the generator.
double derainRegions(Engine& engine, const cv::Mat& frame, const cv::Mat& mask, ColorOrder order, cv::Mat& out);

}  // namespace derain::detail
