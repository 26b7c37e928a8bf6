// A worker thread that processes an element's frames, and a second one that pushes them on its src
// pad, in order, so that the streaming thread can go back upstream for the next frame while the
// network runs (capture / decode / convert of frame t+1 overlap inference of frame t), and the
// network goes on with the next frame while a finished one waits downstream (a synchronising sink
// holds the push until the frame's render time: up to the pipeline's latency).
//
// At most max_in_flight frames are queued, being processed or waiting to be pushed; submit() blocks
// the streaming thread while that many are (backpressure). Serialized events must not overtake
// frames: the element calls drain() before forwarding one (EOS, CAPS, SEGMENT, ...), and
// setFlushing() on FLUSH_START / FLUSH_STOP and before going to READY. The first non-OK flow of a push (or of the work itself) is
// kept and returned by later submit()s, so upstream learns about NOT_LINKED, EOS or an error; later
// frames are discarded.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <gst/gst.h>

namespace derain_gst {

class FrameWorker {
 public:
  // Fills out from in (both are the job's own buffers); returns GST_FLOW_OK or, after posting an
  // element error, GST_FLOW_ERROR.
  using Work = std::function<GstFlowReturn(GstBuffer* in, GstBuffer* out)>;

  // Starts the thread. srcpad: where finished frames go.
  FrameWorker(GstElement* element, GstPad* srcpad, int max_in_flight);
  // Discards what is queued, waits for the frame being processed and pushed, joins the threads.
  ~FrameWorker();
  FrameWorker(const FrameWorker&) = delete;
  FrameWorker& operator=(const FrameWorker&) = delete;

  // Queues a frame (takes both references; out == in for a frame that only has to be pushed, with
  // no work). Blocks while max_in_flight frames are in flight. Returns GST_FLOW_OK, the kept flow
  // (the frame is then discarded) or GST_FLOW_FLUSHING while flushing.
  GstFlowReturn submit(GstBuffer* in, GstBuffer* out, Work work);
  // For a live source: never blocks. Frames waiting to be pushed do not count here (a synchronising
  // sink holds each until its render time). When max_in_flight frames are queued or processed, the
  // oldest frame still waiting (not started) is dropped and this one takes its place, as a leaky
  // queue would, so the worker always goes on with the newest frame and the source never falls
  // behind its clock (frames a blocked live source makes late are frames the sink throws away).
  // *dropped: how many were (0/1).
  GstFlowReturn submitReplacingWaiting(GstBuffer* in, GstBuffer* out, Work work, int* dropped);
  // Waits until every queued frame has been pushed or discarded.
  void drain();
  // true: discards the queue and wakes submit()/drain(); false (FLUSH_STOP): waits for the frame being
  // processed to be done with (so nothing from before the flush is pushed after it), forgets the kept flow.
  void setFlushing(bool flushing);
  int maxInFlight() const { return max_in_flight_; }

 private:
  struct Job {
    GstBuffer* in;
    GstBuffer* out;
    Work work;
  };
  void run();
  void pushLoop();
  void discardQueueLocked();

  GstElement* element_;
  GstPad* srcpad_;
  const int max_in_flight_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  bool busy_ = false;  // the thread holds a job
  std::deque<GstBuffer*> done_;  // processed, waiting for the pusher
  bool pushing_ = false;         // the pusher holds a frame
  bool flushing_ = false;
  bool quit_ = false;
  GstFlowReturn flow_ = GST_FLOW_OK;
  std::thread thread_;
  std::thread pusher_;
};

}  // namespace derain_gst
