// The processing latency an element reports, measured on real frames (see ProcessingLatency).
#pragma once

#include <mutex>

#include <gst/gst.h>

namespace derain_gst {

// The latency an element adds: `frames in flight` x the time one frame takes, measured on real
// frames (no warm-up inference at negotiation). The first frame after reset() sets the frame time, so
// there is a latency from the first frame on. The warm-up frames are not typical: the first (buffers,
// weight packs and thread pools are made then) and, for a temporal element, those that fill its
// window (each is the first with that many neighbours, whose alignment and fusion buffers are made
// then; the first with a neighbour took about twice a steady frame in a live pipeline). Once
// kSettleFrames frames after them have been measured, the latency is set once more, to the slowest of
// those (frames taking longer than the latency arrive late at a sink). After that it is only raised,
// when the running average exceeds it by half (the machine got busier), so a live pipeline's latency
// does not wobble. Thread-safe.
class ProcessingLatency {
 public:
  static constexpr int kSettleFrames = 8;

  // Forget the frame time (new caps: another size); the reported latency stays until a frame is measured.
  void reset();
  // Frames after reset() left out of the settling: 1 (the first) plus those a temporal element needs
  // to fill its window and look-ahead. Set before frames are measured (the element does in start()).
  void setWarmUpFrames(int frames);
  // Folds in one frame; true when the reported latency changed (post a latency message).
  bool record(GstClockTime frame_ns, int frames_in_flight);
  // Latency that does not depend on the frame time: frames held back for look-ahead times the frame
  // duration. True when it changed (post a latency message).
  bool setHeldBack(GstClockTime ns);
  // Held-back time plus, once a frame has been measured, frames in flight x the frame time.
  GstClockTime latency() const;
  // What a frame entering now is expected to take to come out: held-back time plus frames in flight x
  // the running average frame time (latency() is the bound a sink plans with: the slowest settling
  // frame plus headroom). 0 until a frame has been measured.
  GstClockTime expected() const;
  void clear();  // stop(): nothing measured, nothing reported

 private:
  mutable std::mutex mutex_;
  GstClockTime held_back_ = 0;
  int warm_up_ = 1;               // setWarmUpFrames()
  int measured_ = 0;              // frames since reset(), up to warm_up_ + kSettleFrames + 1
  GstClockTime settle_max_ = 0;   // slowest of frames warm_up_ + 1 .. warm_up_ + kSettleFrames
  double settle_sum_ = 0.0;       // and their sum
  double average_ns_ = 0.0;
  int frames_in_flight_ = 0;  // as of the last record()
  GstClockTime frame_ns_ = 0;  // the frame time the latency is built on
  GstClockTime latency_ = 0;
};

}  // namespace derain_gst
