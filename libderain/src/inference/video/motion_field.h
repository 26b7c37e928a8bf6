// Dense motion between neighbouring frames for temporal deraining: DIS optical flow at reduced resolution
// on a rain-suppressed grey guide, both directions, with the forward/backward consistency check that marks
// occlusions and unreliable motion; chaining of frame-to-frame flows into frame-to-target offsets; and the
// full-resolution warp of a neighbour onto the target.
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/video/tracking.hpp>

#include "derain/types.hpp"

namespace derain::detail {

// Motion between an earlier frame e and the next frame l, on the guides' (reduced) grid.
struct PairMotion {
  cv::Mat backward;     // CV_32FC2 on l's pixels: offset to the same point in e
  cv::Mat backward_ok;  // CV_32FC1 on l's pixels: 1 where the round trip l -> e -> l closes, else 0
  cv::Mat forward;      // CV_32FC2 on e's pixels: offset to the same point in l
  cv::Mat forward_ok;   // CV_32FC1 on e's pixels: 1 where e -> l -> e closes (empty when the forward
                        // flow only checks the backward one: no look-ahead)
  double explained = 1.0;  // fraction of l's pixels with consistent motion and a matching warped e
  // Camera motion: the homography (CV_64F 3x3, guide coordinates) from l to e that most consistent flow
  // vectors follow, and its inverse; empty when the flow does not support one (too few inliers).
  cv::Mat camera_backward, camera_forward;
};

class MotionEstimator {
 public:
  // `forward_aligns`: the forward flow warps frames too (look-ahead), not only checks the backward one;
  // it is then computed as finely as the backward flow.
  MotionEstimator(int downscale, bool forward_aligns);

  // Grey guide at 1/downscale, with thin bright structures (rain streaks) removed by a small erosion so
  // the flow follows the scene, not the falling rain.
  cv::Mat guide(const cv::Mat& frame, ColorOrder order) const;
  PairMotion estimate(const cv::Mat& earlier_guide, const cv::Mat& later_guide);

 private:
  int downscale_;
  cv::Ptr<cv::DISOpticalFlow> dis_;
  cv::Ptr<cv::DISOpticalFlow> forward_dis_;  // dis_ itself, or a coarser one when it only checks
};

// Offset field from a target frame to a neighbour, on the guide grid, with its confidence.
struct Alignment {
  cv::Mat offset;      // CV_32FC2: target pixel x is at x + offset(x) in the neighbour
  cv::Mat confidence;  // CV_32FC1 in [0, 1]: 0 = occluded or inconsistent somewhere along the chain
  bool identity = false;  // offset 0 and confidence 1 everywhere (the target onto itself)
};

// Identity alignment (the target onto itself) on a grid of `size`.
Alignment identityAlignment(cv::Size size);
// One more hop: `a` goes target -> n, `step`/`step_ok` go n -> n' on n's pixels; returns target -> n'.
Alignment chain(const Alignment& a, const cv::Mat& step, const cv::Mat& step_ok);

// Alignment that follows the camera alone: x -> camera(x), for a homography from target to neighbour.
Alignment cameraAlignment(cv::Size size, const cv::Mat& camera);

// Per pixel, the better of two alignments of the same neighbour, judged on the guides: the camera model
// (precise and smooth where the scene is rigid and distant) unless the dense flow matches clearly better
// (moving objects, parallax). Where even the chosen one leaves the warped neighbour's guide more than a
// few levels (thin structures such as rain left out) from the target's, the motion is wrong (misaligned edge, changed content),
// whatever the round-trip test said: the confidence drops to 0. `camera` may be empty (dense alone).
Alignment chooseAlignment(const Alignment& dense, const Alignment& camera, const cv::Mat& target_guide,
                          const cv::Mat& neighbour_guide);

// Warps a full-resolution neighbour onto the target with an alignment computed on the guide grid.
// `valid` (CV_8UC1 of the frame's size) is 255 where the sample is trustworthy: confident motion and a
// source point inside the neighbour.
void warpToTarget(const cv::Mat& neighbour, const Alignment& alignment, cv::Mat& warped, cv::Mat& valid);

}  // namespace derain::detail
