// The frames a look-ahead element holds back, with the serialized events that came between them:
// a frame's output is pushed when its look-ahead has arrived, and the events that followed it
// upstream follow it downstream, so the stream's order of frames and events is kept.
#pragma once

#include <deque>

#include <gst/gst.h>

namespace derain_gst {

class LookaheadQueue {
 public:
  LookaheadQueue() = default;
  LookaheadQueue(const LookaheadQueue&) = delete;
  LookaheadQueue& operator=(const LookaheadQueue&) = delete;
  ~LookaheadQueue() { clear(); }

  // Takes ownership. after_gap: frames were dropped (QoS) just before this one; its output is the
  // one to mark DISCONT, whichever frames leave before it.
  void pushFrame(GstBuffer* input, bool after_gap) { items_.push_back({input, nullptr, after_gap}); }
  void pushEvent(GstEvent* event) { items_.push_back({nullptr, event, false}); }

  bool empty() const { return items_.empty(); }

  // The oldest frame's input buffer (ownership to the caller), or null when no frame waits. Only
  // call when no event is in front of it (pushEventsBeforeNextFrame() first).
  GstBuffer* popFrame(bool* after_gap) {
    if (items_.empty() || items_.front().buffer == nullptr) return nullptr;
    GstBuffer* input = items_.front().buffer;
    *after_gap = items_.front().after_gap;
    items_.pop_front();
    return input;
  }

  // Pushes the events queued before the next frame (or all, when no frame is left) on pad.
  void pushEventsBeforeNextFrame(GstPad* pad) {
    while (!items_.empty() && items_.front().event != nullptr) {
      GstEvent* event = items_.front().event;
      items_.pop_front();
      gst_pad_push_event(pad, event);
    }
  }

  // Flush: everything dropped, unpushed.
  void clear() {
    for (const Item& item : items_) {
      if (item.buffer != nullptr) gst_buffer_unref(item.buffer);
      if (item.event != nullptr) gst_event_unref(item.event);
    }
    items_.clear();
  }

 private:
  struct Item {
    GstBuffer* buffer;
    GstEvent* event;
    bool after_gap;
  };
  std::deque<Item> items_;
};

}  // namespace derain_gst
