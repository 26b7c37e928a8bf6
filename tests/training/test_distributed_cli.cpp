// derain-train data-parallel, as processes: the rendezvous variables' usage errors, a killed rank
// (the survivor names it, bounded by --dist-timeout), and --nproc-per-node (a complete run, Ctrl-C
// that stops every worker with one checkpoint, a killed worker named by the launcher).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "training/local_launcher.h"
#include "training_test_support.h"

using derain::training_test::TempDir;
using derain::training_test::waitExit;
using Clock = std::chrono::steady_clock;

namespace {

size_t lineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

bool waitForLines(const std::string& path, size_t lines, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (lineCount(path) < lines) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Child pids of `pid` (Linux: /proc/PID/task/PID/children).
std::vector<pid_t> children(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

class DistributedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (derain::training_test::trainBinary().empty()) GTEST_SKIP() << "DERAIN_TRAIN_BIN not set";
    derain::training_test::writeTinyRunData(dir);
  }
  std::vector<std::string> common(const std::string& out, int iters) {
    auto args = derain::training_test::tinyRunArgs(dir, out, iters);
    args.insert(args.end(), {"--checkpoint-every", "0", "--sample-every", "0", "--plot-every", "0"});
    return args;
  }
  std::string read(const std::string& name) { return derain::training_test::readBytes(dir.file(name)); }
  // Two ranks of a long run over loopback with --dist-timeout, returned once rank 0 has logged a few
  // steps (logs rank0.log, rank1.log); if they never get there, a failure and both killed.
  std::pair<pid_t, pid_t> startTwoRanks(const std::string& dist_timeout) {
    const std::string port = std::to_string(derain::detail::freeLoopbackPort());
    auto args = common("run", 100000);
    args.insert(args.end(), {"--dist-timeout", dist_timeout});
    std::map<std::string, std::string> env{{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}};
    env["RANK"] = "0";
    const pid_t rank0 = derain::training_test::spawnTrainer(args, env, dir.file("rank0.log"));
    env["RANK"] = "1";
    const pid_t rank1 = derain::training_test::spawnTrainer(args, env, dir.file("rank1.log"));
    if (!waitForLines(dir.file("run/losses.csv"), 4, std::chrono::seconds(60))) {
      ADD_FAILURE() << "the ranks did not start training:\n" << read("rank0.log");
      kill(rank0, SIGKILL);
      kill(rank1, SIGKILL);
    }
    return {rank0, rank1};
  }
  TempDir dir;
};

}  // namespace

TEST_F(DistributedCli, RendezvousVariablesAreCheckedAsUsageErrors) {
  struct Case {
    std::map<std::string, std::string> env;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}}, "MASTER_PORT is not set"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1234"}},
       "RANK=2 is out of range for WORLD_SIZE=2"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "one"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1234"}},
       "RANK must be a non-negative integer, got 'one'"},
  };
  for (const auto& c : cases) {
    const int code = waitExit(derain::training_test::spawnTrainer(common("out", 2), c.env, dir.file("log.txt")));
    const std::string log = read("log.txt");
    EXPECT_EQ(code, 2) << log;
    EXPECT_NE(log.find(c.expected), std::string::npos) << log;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out/checkpoint.derain")));
  }
  auto launcher = common("out", 2);
  launcher.insert(launcher.end(), {"--nproc-per-node", "2"});
  EXPECT_EQ(waitExit(derain::training_test::spawnTrainer(launcher, {{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"},
                                      {"MASTER_PORT", "1234"}}, dir.file("log.txt"))), 2)
      << read("log.txt");
}

// A rank killed mid-run: the other ends with an error naming it, well within the timeout.
TEST_F(DistributedCli, KilledRankMakesTheOtherFailNamingIt) {
  const auto [rank0, rank1] = startTwoRanks("20");
  if (HasFailure()) return;
  kill(rank1, SIGKILL);
  const auto killed = Clock::now();
  EXPECT_EQ(waitExit(rank1), 1000 + SIGKILL);
  const int code = waitExit(rank0, std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  const std::string log = read("rank0.log");
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("rank 1 is dead or hung"), std::string::npos) << log;
  EXPECT_LT(seconds, 20.0) << log;
  std::cout << "rank 0 ended " << seconds << " s after rank 1 was killed:\n" << log;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/model.derain")));
}

// A hung rank (stopped, its sockets open): the other times out after --dist-timeout and names it.
TEST_F(DistributedCli, HungRankMakesTheOtherFailNamingItAfterTheTimeout) {
  const auto [rank0, rank1] = startTwoRanks("3");
  if (HasFailure()) return;
  kill(rank1, SIGSTOP);
  const auto stopped = Clock::now();
  const int code = waitExit(rank0, std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  kill(rank1, SIGKILL);
  waitExit(rank1);
  const std::string log = read("rank0.log");
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("rank 1 is dead or hung"), std::string::npos) << log;
  EXPECT_GE(seconds, 2.5) << log;   // the timeout, then a roll call of up to 3 s
  EXPECT_LT(seconds, 20.0) << log;
}

// --nproc-per-node 2: a complete run by two local workers, and Ctrl-C on the launcher.
TEST_F(DistributedCli, LauncherRunsWorkersAndStopsThemOnCtrlC) {
  auto args = common("full", 6);
  args.insert(args.end(), {"--nproc-per-node", "2"});
  const int code = waitExit(derain::training_test::spawnTrainer(args, {}, dir.file("full.log")));
  const std::string log = read("full.log");
  ASSERT_EQ(code, 0) << log;
  EXPECT_NE(log.find("started 2 workers"), std::string::npos) << log;
  EXPECT_NE(log.find("effective batch 1 x 2"), std::string::npos) << log;
  EXPECT_TRUE(std::filesystem::exists(dir.file("full/model.derain")));
  EXPECT_EQ(lineCount(dir.file("full/losses.csv")), 7u);  // header + 6 iterations, written once

  auto long_run = common("split", 100000);
  long_run.insert(long_run.end(), {"--nproc-per-node", "2"});
  const pid_t launcher = derain::training_test::spawnTrainer(long_run, {}, dir.file("split.log"));
  ASSERT_TRUE(waitForLines(dir.file("split/losses.csv"), 4, std::chrono::seconds(60))) << read("split.log");
  kill(launcher, SIGINT);
  const int stopped = waitExit(launcher, std::chrono::seconds(60));
  const std::string split_log = read("split.log");
  EXPECT_EQ(stopped, 128 + SIGINT) << split_log;
  ASSERT_TRUE(std::filesystem::exists(dir.file("split/checkpoint.derain"))) << split_log;
  // One checkpoint, by rank 0: "stopped after" is printed by each worker, "--resume" hint included.
  EXPECT_NE(split_log.find("continue with --resume"), std::string::npos) << split_log;
  const size_t rows = lineCount(dir.file("split/losses.csv"));
  EXPECT_GE(rows, 4u);

  // The checkpoint resumes with two workers; the log continues from it.
  std::vector<std::string> resume = {"--rainy", dir.file("rainy"), "--clean", dir.file("clean"), "--out",
                                     dir.file("split"), "--resume", "--iters", std::to_string(rows + 1), "--threads",
                                     "1", "--device", "cpu", "--quiet", "--nproc-per-node", "2"};
  const int resumed = waitExit(derain::training_test::spawnTrainer(resume, {}, dir.file("resume.log")));
  EXPECT_EQ(resumed, 0) << read("resume.log");
  EXPECT_EQ(lineCount(dir.file("split/losses.csv")), rows + 2) << read("resume.log");
  EXPECT_TRUE(std::filesystem::exists(dir.file("split/model.derain")));
}

// A worker killed under --nproc-per-node: the launcher names its rank, stops the other, fails.
TEST_F(DistributedCli, LauncherNamesAKilledWorker) {
  auto args = common("run", 100000);
  args.insert(args.end(), {"--nproc-per-node", "2", "--dist-timeout", "20"});
  const pid_t launcher = derain::training_test::spawnTrainer(args, {}, dir.file("run.log"));
  ASSERT_TRUE(waitForLines(dir.file("run/losses.csv"), 3, std::chrono::seconds(60))) << read("run.log");
  std::vector<pid_t> workers = children(launcher);
  ASSERT_EQ(workers.size(), 2u);
  // Which is rank 1: its environment says.
  pid_t rank1 = 0;
  for (pid_t w : workers) {
    std::ifstream env("/proc/" + std::to_string(w) + "/environ", std::ios::binary);
    std::stringstream s;
    s << env.rdbuf();
    if (s.str().find(std::string("\0RANK=1\0", 8)) != std::string::npos)
      rank1 = w;
  }
  ASSERT_NE(rank1, 0);
  kill(rank1, SIGKILL);
  const int code = waitExit(launcher, std::chrono::seconds(60));
  const std::string log = read("run.log");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -1) << log;
  EXPECT_NE(log.find("rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"), std::string::npos) << log;
  EXPECT_TRUE(children(launcher).empty());
  std::cout << log;
}
