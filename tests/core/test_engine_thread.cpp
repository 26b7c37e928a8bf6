// EngineThread: every job runs on its one thread, whoever submits it; callers get the job's
// exception; a job that submits another runs it inline instead of deadlocking; queued jobs finish
// before the thread stops.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine_thread.h"

using derain::detail::EngineThread;

TEST(EngineThread, JobsFromManyThreadsRunOnItsOneThread) {
  EngineThread engine_thread;
  std::mutex mutex;
  std::set<std::thread::id> ran_on;
  std::atomic<int> jobs{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        engine_thread.run([&] {
          std::lock_guard<std::mutex> lock(mutex);
          ran_on.insert(std::this_thread::get_id());
          ++jobs;
        });
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(jobs.load(), 200);
  ASSERT_EQ(ran_on.size(), 1u);
  EXPECT_EQ(*ran_on.begin(), engine_thread.id());
  EXPECT_NE(engine_thread.id(), std::this_thread::get_id());
}

TEST(EngineThread, ExceptionsReachTheCallerAndNestedJobsRunInline) {
  EngineThread engine_thread;
  EXPECT_THROW(engine_thread.run([] { throw std::runtime_error("out of memory"); }), std::runtime_error);
  int inner = 0;
  engine_thread.run([&] { engine_thread.run([&] { inner = 1; }); });
  EXPECT_EQ(inner, 1);
  engine_thread.run([] {});  // still serving after both
}
