// Options of temporal (video) deraining, derain::VideoDerainer (video.hpp). Plain values with their
// ranges, torch-free (derain-core), so faces that load the inference library lazily can use them.
#pragma once

#include "derain/export.hpp"
#include "derain/types.hpp"

namespace derain {

struct DERAIN_API VideoOptions {
  // Past frames fused with the current one, [0, kMaxTemporalWindow]. 0 with lookahead 0 = frame by frame:
  // the output is exactly Engine::derain of each frame. 3 by default: on the tuning clips 4 gains another
  // 0.5 dB but costs x1.37 the frame-by-frame time at 640x360 on 2 cores, 3 stays within x1.35 (x1.32).
  int temporal_window = 3;
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
