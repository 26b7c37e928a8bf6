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
  settle_sum_ = 0.0;
}

void ProcessingLatency::setWarmUpFrames(int frames) {
  std::lock_guard<std::mutex> lock(mutex_);
  warm_up_ = std::max(1, frames);
}

void ProcessingLatency::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  average_ns_ = 0.0;
  frame_ns_ = 0;
  latency_ = 0;
  held_back_ = 0;
  measured_ = 0;
  settle_max_ = 0;
  settle_sum_ = 0.0;
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
  frames_in_flight_ = frames_in_flight;
  const int last_settling = warm_up_ + kSettleFrames;
  // Until the latency settles, the average is the newest frame: the warm-up frames say little about
  // the next one, and an average that started at the cold first frame would take many frames to come down.
  average_ns_ = measured_ < last_settling || average_ns_ <= 0.0
      ? ns
      : (1.0 - kFrameTimeAverageWeight) * average_ns_ + kFrameTimeAverageWeight * ns;
  if (measured_ <= last_settling) ++measured_;  // stops counting once settled (no overflow on long runs)
  if (measured_ == 1) {  // the first frame since reset()
    frame_ns_ = frame_ns;
  } else if (measured_ <= warm_up_) {
    // Warming up: the first frame's latency holds.
  } else if (measured_ <= last_settling) {
    settle_max_ = std::max(settle_max_, frame_ns);
    settle_sum_ += ns;
    if (measured_ == last_settling) {
      frame_ns_ = static_cast<GstClockTime>(kSettleHeadroom * static_cast<double>(settle_max_));
      average_ns_ = settle_sum_ / kSettleFrames;  // the warm-up frames leave the average too
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

GstClockTime ProcessingLatency::expected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (average_ns_ <= 0.0) return 0;
  return held_back_ + static_cast<GstClockTime>(frames_in_flight_ * average_ns_);
}

}  // namespace derain_gst
