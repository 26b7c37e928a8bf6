// The one thread a shared engine runs its networks on. LibTorch's CPU pool (libgomp) belongs to the
// thread that starts a parallel region: when two streams call one engine from their own threads,
// each thread brings a pool of its own, and the idle pool spin-waits on the cores the busy one needs
// (derain-bench --streams 2, session 3: 19.65 fps in total where 1 stream gave 25.29, `ceiling 3x3 conv
// fp32: 444.3 GFLOP/s`). Running every call on one thread keeps one pool, warm, whoever calls.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace derain::detail {

class EngineThread {
 public:
  EngineThread();
  ~EngineThread();  // finishes the jobs already queued
  EngineThread(const EngineThread&) = delete;
  EngineThread& operator=(const EngineThread&) = delete;

  // Runs job on the engine's thread, after the jobs queued before it; returns when it is done and
  // rethrows what it threw. Called from the engine's thread itself, runs it there directly.
  void run(const std::function<void()>& job);
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace derain::detail
