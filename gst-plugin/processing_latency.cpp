#include "processing_latency.h"

#include <algorithm>

namespace derain_gst {

// Headroom on the slowest settling frame: frame times wander (the other threads of a pipeline share the
// cores), and a frame slower than the latency is a frame the sink throws away.
constexpr double kSettleHeadroom = 1.25;
// Weight of the newest frame in the running average, and how far the average may exceed the frame
// time the latency is built on before the latency is raised.
constexpr double kFrameTimeAverageWeight = 0.1;
constexpr double kLatencyRaiseFactor = 1.5;

void ProcessingLatency::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  average_ns_ = 0.0;
  measured_ = 0;
  settle_max_ = 0;
}

void ProcessingLatency::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  average_ns_ = 0.0;
  frame_ns_ = 0;
  latency_ = 0;
  held_back_ = 0;
  measured_ = 0;
  settle_max_ = 0;
}

bool ProcessingLatency::setHeldBack(GstClockTime ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool changed = ns != held_back_;
  held_back_ = ns;
  return changed;
}

bool ProcessingLatency::record(GstClockTime frame_ns, int frames_in_flight) {
  std::lock_guard<std::mutex> lock(mutex_);
  const double ns = static_cast<double>(frame_ns);
  average_ns_ = average_ns_ <= 0.0 ? ns : (1.0 - kFrameTimeAverageWeight) * average_ns_ + kFrameTimeAverageWeight * ns;
  if (measured_ <= 1 + kSettleFrames) ++measured_;  // stops counting once settled (no overflow on long runs)
  if (measured_ == 1) {  // the first frame since reset()
    frame_ns_ = frame_ns;
  } else if (measured_ <= 1 + kSettleFrames) {
    settle_max_ = std::max(settle_max_, frame_ns);
    if (measured_ == 1 + kSettleFrames) {
      frame_ns_ = static_cast<GstClockTime>(kSettleHeadroom * static_cast<double>(settle_max_));
      average_ns_ = static_cast<double>(settle_max_);  // the cold first frame leaves the average too
    }
  } else if (average_ns_ > kLatencyRaiseFactor * static_cast<double>(frame_ns_)) {
    frame_ns_ = static_cast<GstClockTime>(average_ns_);
  }
  const GstClockTime latency = frame_ns_ * static_cast<GstClockTime>(frames_in_flight);
  const bool changed = latency != latency_;
  latency_ = latency;
  return changed;
}

GstClockTime ProcessingLatency::latency() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_back_ + latency_;
}

}  // namespace derain_gst
