#include "engine_thread.h"

#include <exception>
#include <future>

namespace derain::detail {

EngineThread::EngineThread() : thread_([this] { loop(); }) {}

EngineThread::~EngineThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void EngineThread::run(const std::function<void()>& job) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    job();
    return;
  }
  std::packaged_task<void()> task(job);
  std::future<void> done = task.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.emplace_back([&task] { task(); });
  }
  wake_.notify_one();
  done.get();  // rethrows the job's exception in the caller
}

void EngineThread::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();  // a packaged_task: exceptions go to the caller's future
  }
}

}  // namespace derain::detail
