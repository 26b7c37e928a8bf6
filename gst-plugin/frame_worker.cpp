#include "frame_worker.h"

namespace derain_gst {

namespace {
// A frame that will not be processed: its output buffer (unless it is the input) and its input.
void releaseFrame(GstBuffer* in, GstBuffer* out) {
  if (out != in) gst_buffer_unref(out);
  gst_buffer_unref(in);
}
}  // namespace

FrameWorker::FrameWorker(GstElement* element, GstPad* srcpad, int max_in_flight)
    : element_(element),
      srcpad_(srcpad),
      max_in_flight_(max_in_flight),
      thread_([this] { run(); }),
      pusher_([this] { pushLoop(); }) {}

FrameWorker::~FrameWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
    flushing_ = true;
    discardQueueLocked();
  }
  changed_.notify_all();
  thread_.join();
  pusher_.join();
}

void FrameWorker::discardQueueLocked() {
  for (Job& job : queue_) releaseFrame(job.in, job.out);
  if (!queue_.empty()) GST_DEBUG_OBJECT(element_, "discarded %zu queued frame(s)", queue_.size());
  queue_.clear();
  for (GstBuffer* out : done_) gst_buffer_unref(out);
  done_.clear();
}

GstFlowReturn FrameWorker::submit(GstBuffer* in, GstBuffer* out, Work work) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] {
    const int in_flight = static_cast<int>(queue_.size() + done_.size()) + (busy_ ? 1 : 0) + (pushing_ ? 1 : 0);
    return flushing_ || flow_ != GST_FLOW_OK || in_flight < max_in_flight_;
  });
  const GstFlowReturn flow = flushing_ ? GST_FLOW_FLUSHING : flow_;
  if (flow != GST_FLOW_OK) {
    lock.unlock();
    releaseFrame(in, out);
    return flow;
  }
  queue_.push_back(Job{in, out, std::move(work)});
  lock.unlock();
  changed_.notify_all();
  return GST_FLOW_OK;
}

GstFlowReturn FrameWorker::submitReplacingWaiting(GstBuffer* in, GstBuffer* out, Work work, int* dropped) {
  *dropped = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  // max_in_flight is at least 2 with a worker: with the queue empty, one frame at most is being
  // processed, so there is room without waiting; else the oldest waiting frame makes room.
  const GstFlowReturn flow = flushing_ ? GST_FLOW_FLUSHING : flow_;
  if (flow != GST_FLOW_OK) {
    lock.unlock();
    releaseFrame(in, out);
    return flow;
  }
  Job replaced{nullptr, nullptr, nullptr};
  if (static_cast<int>(queue_.size()) + (busy_ ? 1 : 0) >= max_in_flight_ && !queue_.empty()) {
    replaced = std::move(queue_.front());
    queue_.pop_front();
    *dropped = 1;
    // The frame before this one in the output is gone: mark the gap, as a QoS drop does. Set under
    // the lock, before the worker can take the frame (out is this call's own buffer).
    if (out != in) GST_BUFFER_FLAG_SET(out, GST_BUFFER_FLAG_DISCONT);
  }
  queue_.push_back(Job{in, out, std::move(work)});
  lock.unlock();
  changed_.notify_all();
  if (replaced.in != nullptr) releaseFrame(replaced.in, replaced.out);
  return GST_FLOW_OK;
}

void FrameWorker::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return flushing_ || (queue_.empty() && !busy_ && done_.empty() && !pushing_); });
}

void FrameWorker::setFlushing(bool flushing) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (flushing) {
    flushing_ = true;
    discardQueueLocked();
    lock.unlock();
    changed_.notify_all();
    return;
  }
  changed_.wait(lock, [this] { return !busy_ && !pushing_; });
  flushing_ = false;
  flow_ = GST_FLOW_OK;
}

void FrameWorker::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return quit_ || !queue_.empty(); });
    if (queue_.empty()) return;  // quit
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    bool discard = flushing_ || flow_ != GST_FLOW_OK;
    lock.unlock();

    GstFlowReturn ret = GST_FLOW_OK;
    if (!discard && job.work) ret = job.work(job.in, job.out);
    if (job.out != job.in) gst_buffer_unref(job.in);
    lock.lock();
    busy_ = false;
    if (flushing_ || discard || ret != GST_FLOW_OK)
      gst_buffer_unref(job.out);
    else
      done_.push_back(job.out);  // set before busy_ is seen false: FLUSH_STOP then waits for the pusher
    if (ret != GST_FLOW_OK && flow_ == GST_FLOW_OK) {
      GST_DEBUG_OBJECT(element_, "worker flow %s", gst_flow_get_name(ret));
      flow_ = ret;
    }
    changed_.notify_all();
  }
}

void FrameWorker::pushLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return quit_ || !done_.empty(); });
    if (done_.empty()) return;  // quit
    GstBuffer* out = done_.front();
    done_.pop_front();
    pushing_ = true;
    const bool discard = flushing_ || flow_ != GST_FLOW_OK;
    lock.unlock();
    // Pushed with pushing_ set: FLUSH_STOP waits for this push, so it cannot overtake a stale frame.
    GstFlowReturn ret = GST_FLOW_OK;
    if (discard)
      gst_buffer_unref(out);
    else
      ret = gst_pad_push(srcpad_, out);
    lock.lock();
    pushing_ = false;
    if (ret != GST_FLOW_OK && flow_ == GST_FLOW_OK) {
      GST_DEBUG_OBJECT(element_, "push flow %s", gst_flow_get_name(ret));
      flow_ = ret;
    }
    changed_.notify_all();
  }
}

}  // namespace derain_gst
