// Options of temporal (video) deraining, derain::VideoDerainer (video.hpp). Plain values with their
// ranges, torch-free (derain-core), so faces that load the inference library lazily can use them.
#pragma once

#include "derain/export.hpp"
#include "derain/types.hpp"

namespace derain {

struct DERAIN_API VideoOptions {
  // Past frames fused with the current one, [0, kMaxTemporalWindow]. 0 with lookahead 0 = frame by frame:
  // the output is exactly Engine::derain of each frame.
  int temporal_window = 4;
  // Future frames also fused, [0, kMaxLookahead]: the output lags the input by this many frames.
  int lookahead = 0;
  // Optical flow runs at 1/flow_downscale of the frame's resolution, [1, kMaxFlowDownscale].
  int flow_downscale = 2;
  // A frame is a scene cut when less than this fraction of it is explained by motion from the previous
  // frame, [0, 1]; 0 turns detection off.
  double scene_cut_threshold = 0.35;
  // Channel order of the frames (as Engine::derain).
  ColorOrder color_order = ColorOrder::BGR;

  // Throws derain::Error naming the first field outside its range.
  void validate() const;
};

constexpr int kMaxTemporalWindow = 8;
constexpr int kMaxLookahead = 4;
constexpr int kMaxFlowDownscale = 8;

}  // namespace derain
