// derain's FrameWorker on its own, with a plain pad pair: a live source's frame never waits (a
// waiting frame gives way to the newer one, and the gap is marked), and the network goes on with the
// next frame while a finished one is held downstream (a synchronising sink holds its push until the
// frame's render time). Orders and counts only; the timeouts only turn a hang into a failure.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include "frame_worker.h"

namespace {

constexpr auto kHangGuard = std::chrono::seconds(20);

// A linked src/sink pad pair; the sink records what arrives, and can hold the first push.
class PadPair {
 public:
  PadPair() {
    src_ = gst_pad_new("src", GST_PAD_SRC);
    sink_ = gst_pad_new("sink", GST_PAD_SINK);
    gst_pad_set_chain_function(sink_, &PadPair::chain);
    g_object_set_data(G_OBJECT(sink_), "pair", this);
    EXPECT_EQ(gst_pad_link(src_, sink_), GST_PAD_LINK_OK);
    gst_pad_set_active(sink_, TRUE);
    gst_pad_set_active(src_, TRUE);
    gst_pad_push_event(src_, gst_event_new_stream_start("frame-worker-test"));
    gst_pad_push_event(src_, gst_event_new_caps(gst_caps_new_empty_simple("video/x-raw")));
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(src_, gst_event_new_segment(&segment));
  }
  ~PadPair() {
    gst_pad_set_active(src_, FALSE);
    gst_pad_set_active(sink_, FALSE);
    gst_object_unref(src_);
    gst_object_unref(sink_);
  }
  GstPad* src() { return src_; }

  void holdFirstPush() { hold_ = true; }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = false;
    changed_.notify_all();
  }
  bool waitUntilHolding() {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kHangGuard, [this] { return holding_; });
  }
  std::vector<GstClockTime> pts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return pts_;
  }
  std::vector<bool> discont() {
    std::lock_guard<std::mutex> lock(mutex_);
    return discont_;
  }

 private:
  static GstFlowReturn chain(GstPad* pad, GstObject*, GstBuffer* buffer) {
    auto* self = static_cast<PadPair*>(g_object_get_data(G_OBJECT(pad), "pair"));
    std::unique_lock<std::mutex> lock(self->mutex_);
    self->pts_.push_back(GST_BUFFER_PTS(buffer));
    self->discont_.push_back(GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT));
    if (self->hold_) {
      self->holding_ = true;
      self->changed_.notify_all();
      self->changed_.wait(lock, [self] { return !self->hold_; });
    }
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  GstPad* src_;
  GstPad* sink_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false, holding_ = false;
  std::vector<GstClockTime> pts_;
  std::vector<bool> discont_;
};

GstBuffer* frame(int index) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, 16, nullptr);
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(index) * GST_MSECOND * 40;
  return buffer;
}

// Work that records which frames ran and can be held on a given frame until released.
struct Work {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<GstClockTime> ran;
  GstClockTime hold_at = GST_CLOCK_TIME_NONE;
  bool holding = false;

  derain_gst::FrameWorker::Work make() {
    return [this](GstBuffer* in, GstBuffer*) {
      std::unique_lock<std::mutex> lock(mutex);
      ran.push_back(GST_BUFFER_PTS(in));
      if (GST_BUFFER_PTS(in) == hold_at) {
        holding = true;
        changed.notify_all();
        changed.wait(lock, [this] { return hold_at == GST_CLOCK_TIME_NONE; });
      }
      changed.notify_all();
      return GST_FLOW_OK;
    };
  }
  bool waitFor(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, kHangGuard, done);
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    hold_at = GST_CLOCK_TIME_NONE;
    changed.notify_all();
  }
};

// Submits without waiting on the test thread: a submit that blocks fails the test instead of hanging it.
GstFlowReturn submitLive(derain_gst::FrameWorker& worker, int index, Work& work, int* dropped) {
  auto result = std::async(std::launch::async, [&] {
    GstBuffer* in = frame(index);
    GstBuffer* out = gst_buffer_copy(in);
    return worker.submitReplacingWaiting(in, out, work.make(), dropped);
  });
  if (result.wait_for(kHangGuard) != std::future_status::ready) {
    ADD_FAILURE() << "a live submit blocked";
    std::abort();  // the worker holds frames the test cannot get back
  }
  return result.get();
}

}  // namespace

TEST(FrameWorker, LiveFrameReplacesTheWaitingOneAndMarksTheGap) {
  PadPair pads;
  Work work;
  work.hold_at = 0;  // frame 0 stays in the network while 1..3 arrive
  {
    derain_gst::FrameWorker worker(nullptr, pads.src(), 2);
    int dropped = -1;
    ASSERT_EQ(submitLive(worker, 0, work, &dropped), GST_FLOW_OK);
    EXPECT_EQ(dropped, 0);
    ASSERT_TRUE(work.waitFor([&] { return work.holding; }));
    ASSERT_EQ(submitLive(worker, 1, work, &dropped), GST_FLOW_OK);
    EXPECT_EQ(dropped, 0) << "one frame processed, none waiting: room for one";
    ASSERT_EQ(submitLive(worker, 2, work, &dropped), GST_FLOW_OK);
    EXPECT_EQ(dropped, 1) << "frame 1 was waiting: it gives way";
    ASSERT_EQ(submitLive(worker, 3, work, &dropped), GST_FLOW_OK);
    EXPECT_EQ(dropped, 1);
    work.release();
    worker.drain();
  }
  const GstClockTime ms40 = 40 * GST_MSECOND;
  EXPECT_EQ(pads.pts(), (std::vector<GstClockTime>{0, 3 * ms40}));
  EXPECT_EQ(pads.discont(), (std::vector<bool>{false, true}));
  EXPECT_EQ(work.ran, (std::vector<GstClockTime>{0, 3 * ms40})) << "replaced frames are never processed";
}

TEST(FrameWorker, ProcessesTheNextFrameWhileAFinishedOneIsHeldDownstream) {
  PadPair pads;
  pads.holdFirstPush();
  Work work;
  {
    derain_gst::FrameWorker worker(nullptr, pads.src(), 3);
    for (int i = 0; i < 2; ++i) {
      GstBuffer* in = frame(i);
      ASSERT_EQ(worker.submit(in, gst_buffer_copy(in), work.make()), GST_FLOW_OK);
    }
    ASSERT_TRUE(pads.waitUntilHolding());
    // Frame 0's push is held by the sink; frame 1 is processed meanwhile.
    EXPECT_TRUE(work.waitFor([&] { return work.ran.size() == 2; })) << "processing waited for a push";
    EXPECT_EQ(pads.pts().size(), 1u);
    pads.release();
    worker.drain();
  }
  EXPECT_EQ(pads.pts(), (std::vector<GstClockTime>{0, 40 * GST_MSECOND}));
}
