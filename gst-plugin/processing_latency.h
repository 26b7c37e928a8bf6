// The processing latency an element reports, measured on real frames (see ProcessingLatency).
#pragma once

#include <mutex>

#include <gst/gst.h>

namespace derain_gst {

// The latency an element adds: `frames in flight` x the time one frame takes, measured on real
// frames (no warm-up inference at negotiation). The first frame after reset() sets the frame time, so
// there is a latency from the first frame on; once kSettleFrames more have been measured it is set
// once more, to the slowest of those (the first frame is not typical: buffers and weight packs are
// made then, and a temporal element's first frame has no neighbours to align, so it is cheaper or
// dearer than the steady state; frames taking longer than the latency arrive late at a sink). After
// that it is only raised, when the running average exceeds it by half (the machine got busier), so a
// live pipeline's latency does not wobble. Thread-safe.
class ProcessingLatency {
 public:
  static constexpr int kSettleFrames = 8;

  // Forget the frame time (new caps: another size); the reported latency stays until a frame is measured.
  void reset();
  // Folds in one frame; true when the reported latency changed (post a latency message).
  bool record(GstClockTime frame_ns, int frames_in_flight);
  // Latency that does not depend on the frame time: frames held back for look-ahead times the frame
  // duration. True when it changed (post a latency message).
  bool setHeldBack(GstClockTime ns);
  // Held-back time plus, once a frame has been measured, frames in flight x the frame time.
  GstClockTime latency() const;
  void clear();  // stop(): nothing measured, nothing reported

 private:
  mutable std::mutex mutex_;
  GstClockTime held_back_ = 0;
  int measured_ = 0;              // frames since reset(), up to 2 + kSettleFrames
  GstClockTime settle_max_ = 0;   // slowest of frames 2 .. 1 + kSettleFrames
  double average_ns_ = 0.0;
  GstClockTime frame_ns_ = 0;  // the frame time the latency is built on
  GstClockTime latency_ = 0;
};

}  // namespace derain_gst
