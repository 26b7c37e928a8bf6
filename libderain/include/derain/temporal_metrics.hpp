// Temporal error of a video result against its ground truth: how much the frame-to-frame change of the
// output differs from that of the clean video. Flicker and rain left moving in the output both raise it;
// a perfect result scores 0. Torch-free, like derain/metrics.hpp.
#pragma once

#include "derain/export.hpp"

#include <vector>

#include <opencv2/core.hpp>

namespace derain {

// mean over t = 1..n-1, pixels and channels of |(out_t - out_{t-1}) - (gt_t - gt_{t-1})|, in 8-bit levels.
// Frames: all of one size and type, CV_8UC1/3/4 (0..255) or CV_32FC1/3/4 (0..1, scaled by 255); every
// channel counts (alpha too). Throws derain::Error with fewer than two frames, sequences of different
// lengths, or a frame of another size or type.
DERAIN_API double temporalError(const std::vector<cv::Mat>& output, const std::vector<cv::Mat>& ground_truth);

// The same restricted to pixels where mask_t (CV_8UC1, non-zero = counted) is set, for t = 1..n-1
// (masks[0] is not used). Returns 0 when no pixel is counted. Same errors, plus a mask of another size.
DERAIN_API double temporalError(const std::vector<cv::Mat>& output, const std::vector<cv::Mat>& ground_truth,
                     const std::vector<cv::Mat>& masks);

}  // namespace derain
