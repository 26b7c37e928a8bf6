// Video-native deraining: derain frame t with the help of aligned neighbouring frames.
//
// A rain streak is transient: a pixel covered by rain in frame t usually shows the background in frame t-1
// or t-2 once the frames are aligned. VideoDerainer aligns the last `temporal_window` frames (and the next
// `lookahead` ones, at the cost of that many frames of latency) to the current frame with OpenCV's DIS
// optical flow at reduced resolution plus a camera homography, takes the background from them where the
// current frame shows a thin, grey, brightening excess (rain; U-ARSE's attention lowers the threshold) and
// the motion is trustworthy (forward/backward consistent, photometrically matched; moving objects and
// occlusions keep the current frame), then blends in the generator G_N (Engine::derain) where the
// neighbours could not vouch for the pixels. Scene cuts are detected from the flow and reset the state;
// memory is bounded by the window. docs/temporal-deraining.md has the design and the measurements.
//
//   derain::Engine engine("model.derain");
//   derain::VideoDerainer video(engine);          // causal: one frame in, one frame out
//   std::vector<cv::Mat> ready;
//   while (capture.read(frame)) { video.process(frame, ready); for (auto& f : ready) writer << f; ready.clear(); }
//   video.flush(ready);                           // the look-ahead frames still pending (none when causal)
#pragma once

#include "derain/export.hpp"

#include <cstdint>
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "derain/engine.hpp"
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

// What the stream looked like so far.
struct VideoStats {
  int64_t frames_in = 0;
  int64_t frames_out = 0;
  int64_t scene_cuts = 0;        // detected from the frames
  int64_t resets = 0;            // reset() calls and frame size changes
  bool last_was_scene_cut = false;    // the last frame given to process() started a new scene
  double last_explained = 1.0;        // fraction of the last frame explained by motion from the one before
  double last_replaced = 0.0;         // fraction of the last output's pixels taken from neighbouring frames
  double last_generated = 0.0;        // fraction of the last output's area that went through G_N
};

class DERAIN_API VideoDerainer {
 public:
  // `engine` must outlive the derainer; it is used from the thread that calls process()/flush().
  // Throws derain::Error for invalid options.
  explicit VideoDerainer(Engine& engine, const VideoOptions& options = {});
  VideoDerainer(VideoDerainer&&) noexcept;
  VideoDerainer& operator=(VideoDerainer&&) noexcept;
  ~VideoDerainer();

  // Takes the next frame and appends the outputs that became ready to `ready`, oldest first: one frame
  // once `lookahead` frames have arrived after it (none before), or more at once when a scene cut or a new
  // frame size ends the look-ahead of the frames still pending. Frames: CV_8UC3, at least 16x16 (in
  // frame-by-frame mode anything Engine::derain accepts). A frame of another size flushes and restarts.
  // Throws derain::Error on a bad frame.
  void process(const cv::Mat& frame, std::vector<cv::Mat>& ready);
  // End of stream: appends the frames still waiting for their look-ahead, then forgets the history.
  void flush(std::vector<cv::Mat>& ready);
  // Discontinuity (seek, flushing event): forgets the history and drops the pending frames, unemitted.
  void reset();

  // Frames of delay between a frame going in and its result coming out (= lookahead).
  int latency() const;
  const VideoOptions& options() const;
  const VideoStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace derain
