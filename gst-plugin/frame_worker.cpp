#include "frame_worker.h"

namespace derain_gst {

FrameWorker::FrameWorker(GstElement* element, GstPad* srcpad, int max_in_flight)
    : element_(element), srcpad_(srcpad), max_in_flight_(max_in_flight), thread_([this] { run(); }) {}

FrameWorker::~FrameWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
    flushing_ = true;
    discardQueueLocked();
  }
  changed_.notify_all();
  thread_.join();
}

void FrameWorker::discardQueueLocked() {
  for (Job& job : queue_) {
    if (job.out != job.in) gst_buffer_unref(job.out);
    gst_buffer_unref(job.in);
  }
  if (!queue_.empty()) GST_DEBUG_OBJECT(element_, "discarded %zu queued frame(s)", queue_.size());
  queue_.clear();
}

GstFlowReturn FrameWorker::submit(GstBuffer* in, GstBuffer* out, Work work) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] {
    return flushing_ || flow_ != GST_FLOW_OK ||
           static_cast<int>(queue_.size()) + (busy_ ? 1 : 0) < max_in_flight_;
  });
  const GstFlowReturn flow = flushing_ ? GST_FLOW_FLUSHING : flow_;
  if (flow != GST_FLOW_OK) {
    lock.unlock();
    if (out != in) gst_buffer_unref(out);
    gst_buffer_unref(in);
    return flow;
  }
  queue_.push_back(Job{in, out, std::move(work)});
  lock.unlock();
  changed_.notify_all();
  return GST_FLOW_OK;
}

void FrameWorker::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return flushing_ || (queue_.empty() && !busy_); });
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
  changed_.wait(lock, [this] { return !busy_; });
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
    discard = discard || flushing_ || ret != GST_FLOW_OK;
    lock.unlock();
    // Pushed with busy_ set: FLUSH_STOP waits for this push, so it cannot overtake a stale frame.
    if (discard)
      gst_buffer_unref(job.out);
    else
      ret = gst_pad_push(srcpad_, job.out);

    lock.lock();
    busy_ = false;
    if (ret != GST_FLOW_OK && flow_ == GST_FLOW_OK) {
      GST_DEBUG_OBJECT(element_, "worker flow %s", gst_flow_get_name(ret));
      flow_ = ret;
    }
    changed_.notify_all();
  }
}

}  // namespace derain_gst
