// Data-parallel training on c10d, in one test process: each rank is a thread with its own TCPStore
// client and Gloo process group over loopback (real TCP, an ephemeral port), running the real
// training loop. Equivalence with one process of the global batch, sharding, resume with two ranks,
// the rendezvous variables.
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <torch/torch.h>

#include "derain/error.hpp"
#include "training/batch_plan.h"
#include "training/checkpoint.h"
#include "training/distributed.h"
#include "training/gradient_averager.h"
#include "training/image_domain.h"
#include "training/local_launcher.h"
#include "training/training_run.h"
#include "training_test_support.h"

using namespace derain;
using namespace derain::detail;
using training_test::TempDir;

namespace {

struct Data {
  std::vector<std::string> rainy, clean;
};

Data writeData(const TempDir& dir) {
  return {training_test::writeDomain(dir.file("rainy"), 5, 40, true, 1),
          training_test::writeDomain(dir.file("clean"), 4, 40, false, 2)};
}

TrainingRunOptions tinyRun(const Data& data, const std::string& out, int64_t iterations, int batch, int pool) {
  TrainingRunOptions run;
  run.rainy_files = data.rainy;
  run.clean_files = data.clean;
  run.out_dir = out;
  run.config = training_test::tinyConfig();
  run.training = training_test::tinyTrainingOptions(iterations);
  run.training.batch = batch;
  run.training.pool_size = pool;
  run.training.lr = 1e-3;  // larger steps than the default: differences would show
  run.sample_every = 0;
  run.plot_every = 0;
  run.checkpoint_every = 0;
  run.loader_threads = 1;
  run.message = [](const std::string&) {};
  return run;
}

// Runs `run` on `world` ranks, each a thread with its own process group. Rethrows a rank's error.
std::vector<TrainingRunResult> runRanks(const TrainingRunOptions& run, int world,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const int port = freeLoopbackPort();
  std::vector<TrainingRunResult> results(static_cast<size_t>(world));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank)
    threads.emplace_back([&, rank] {
      try {
        RendezvousEnv env;
        env.rank = rank;
        env.world_size = world;
        env.master_addr = "127.0.0.1";
        env.master_port = port;
        DataParallel dp(env, torch::kCPU, timeout);
        TrainingRunOptions mine = run;
        mine.data_parallel = &dp;
        results[static_cast<size_t>(rank)] = runTraining(mine);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return results;
}

bool isNetwork(const std::string& name) {
  for (const char* p : {"att.", "g_n.", "g_r.", "d_n.", "d_r."})
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

std::vector<std::vector<double>> lossRows(const std::string& path) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }  // the ranks share the test's cores
  TempDir dir;
};

}  // namespace

// 2 ranks x batch 1 take the same steps as 1 process x batch 2 on the same samples: the gradients
// are averaged (= the batch-2 mean), the GMM is fitted on both residuals, the attention prior is the
// global batch's. Only the float summation order differs (batch-2 reductions vs the all-reduce), so
// after 4 Adam steps at lr 1e-3 every weight agrees within 1e-6 absolute (measured: 1.3e-7; the
// steps moved weights by up to 3.8e-3, and fitting the GMM per rank instead gives 7e-3). History
// pools are per rank, hence off (size 0) here.
TEST_F(Distributed, TwoRanksOfBatchOneMatchOneProcessOfBatchTwo) {
  const Data data = writeData(dir);
  const int64_t steps = 4;
  runTraining(tinyRun(data, dir.file("single"), steps, 2, 0));
  runRanks(tinyRun(data, dir.file("dp"), steps, 1, 0), 2);

  const CheckpointInfo single = readCheckpoint(dir.file("single/checkpoint.derain"));
  const CheckpointInfo dp = readCheckpoint(dir.file("dp/checkpoint.derain"));
  EXPECT_EQ(dp.iteration, steps);
  EXPECT_EQ(dp.options.batch, 1);
  Trainer fresh(training_test::tinyConfig(), tinyRun(data, "", steps, 2, 0).training, torch::kCPU);
  std::map<std::string, at::Tensor> initial;
  for (const auto& item : fresh.model()->named_parameters()) initial[item.key()] = item.value();
  double max_diff = 0, max_moved = 0;
  size_t compared = 0;
  for (const auto& [name, tensor] : single.file.tensors) {
    if (!isNetwork(name)) continue;
    const at::Tensor* other = dp.file.findTensor(name);
    ASSERT_NE(other, nullptr) << name;
    max_diff = std::max(max_diff, (tensor - *other).abs().max().item<double>());
    max_moved = std::max(max_moved, (tensor - initial.at(name)).abs().max().item<double>());
    ++compared;
  }
  EXPECT_GT(compared, 20u);
  EXPECT_GT(max_moved, 1e-3);  // the runs did train
  EXPECT_LT(max_diff, 1e-6) << "moved " << max_moved;
  // The GMM (fitted on both ranks' residuals) and the logged (averaged) losses agree too.
  EXPECT_TRUE(torch::allclose(*single.file.findTensor("gmm.variances"), *dp.file.findTensor("gmm.variances"), 1e-4));
  const auto a = lossRows(dir.file("single/losses.csv")), b = lossRows(dir.file("dp/losses.csv"));
  ASSERT_EQ(a.size(), static_cast<size_t>(steps));
  ASSERT_EQ(b.size(), a.size());
  for (size_t r = 0; r < a.size(); ++r)
    for (size_t c = 0; c < a[r].size(); ++c) EXPECT_NEAR(a[r][c], b[r][c], 1e-4 * (1 + std::abs(a[r][c]))) << r << "," << c;
  std::cout << "max |w_dp - w_single| = " << max_diff << " (weights moved up to " << max_moved << ")\n";
}

TEST_F(Distributed, RanksShareNoImageWithinAnEpoch) {
  const Data data = writeData(dir);
  auto quiet = [](const std::string&) {};
  ImageDomain rainy("rainy", data.rainy, 32, 1, quiet, 0), clean("clean", data.clean, 32, 1, quiet, 0);
  for (const int world : {2, 3})
    for (const int batch : {1, 2}) {
      // The larger domain (rainy, 5 images) defines epochs: samples k*5 .. k*5+4 of the global order.
      std::map<int64_t, std::multiset<size_t>> seen;  // epoch -> images used by any rank
      const int64_t global = batch * world;
      for (int64_t it = 0; it < 10; ++it) {
        const BatchPlan whole = planBatch(5, it, static_cast<int>(global), 32, rainy, clean);
        for (int rank = 0; rank < world; ++rank) {
          const BatchPlan shard = planShard(5, it, batch, rank, world, 32, rainy, clean);
          ASSERT_EQ(shard.rainy.size(), static_cast<size_t>(batch));
          for (int b = 0; b < batch; ++b) {
            const int64_t sample = it * global + rank * batch + b;
            seen[sample / 5].insert(shard.rainy[b].index);
            // The shard is this rank's slice of the global batch: same images, crops and flips.
            const CropSpec& want = whole.rainy[static_cast<size_t>(rank * batch + b)];
            EXPECT_EQ(shard.rainy[b].index, want.index);
            EXPECT_EQ(shard.rainy[b].x, want.x);
            EXPECT_EQ(shard.clean[b].index, whole.clean[static_cast<size_t>(rank * batch + b)].index);
          }
        }
      }
      for (const auto& [epoch, images] : seen) {
        if (images.size() < 5) continue;  // the last, unfinished epoch
        EXPECT_EQ(images.size(), 5u) << "world " << world << " batch " << batch << " epoch " << epoch;
        EXPECT_EQ(std::set<size_t>(images.begin(), images.end()).size(), images.size())
            << "an image seen twice in epoch " << epoch << " (world " << world << ", batch " << batch << ")";
      }
    }
  // One rank is planBatch itself (the single-process path is unchanged).
  const BatchPlan one = planShard(5, 3, 2, 0, 1, 32, rainy, clean), plain = planBatch(5, 3, 2, 32, rainy, clean);
  EXPECT_EQ(one.rainy[1].index, plain.rainy[1].index);
  EXPECT_EQ(one.clean[1].y, plain.clean[1].y);
}

TEST_F(Distributed, ResumeWithTwoRanksReproducesTheUninterruptedRun) {
  const Data data = writeData(dir);
  const int64_t steps = 8;
  runRanks(tinyRun(data, dir.file("full"), steps, 1, 2), 2);  // pools of 2 fill after 2 steps
  TrainingRunOptions split = tinyRun(data, dir.file("split"), steps, 1, 2);
  split.stop_after = 4;
  auto first = runRanks(split, 2);
  EXPECT_FALSE(first[0].completed);
  EXPECT_EQ(first[0].iterations_done, 4);
  EXPECT_FALSE(std::filesystem::exists(dir.file("split/model.derain")));
  // Rank 0's checkpoint holds rank 1's history pools and pool stream.
  const CheckpointInfo info = readCheckpoint(dir.file("split/checkpoint.derain"));
  EXPECT_NE(info.file.findMeta("rank1.pool_rng"), nullptr);
  EXPECT_NE(info.file.findTensor("rank1.pool_n.1"), nullptr);
  EXPECT_EQ(*info.file.findMeta("world_size"), "2");

  TrainingRunOptions resume = tinyRun(data, dir.file("split"), steps, 1, 2);
  resume.resume = true;
  auto second = runRanks(resume, 2);
  EXPECT_TRUE(second[0].completed);
  EXPECT_TRUE(second[1].completed);
  EXPECT_EQ(training_test::readBytes(dir.file("full/losses.csv")), training_test::readBytes(dir.file("split/losses.csv")));
  EXPECT_EQ(training_test::readBytes(dir.file("full/model.derain")), training_test::readBytes(dir.file("split/model.derain")));
}

TEST_F(Distributed, ResumeWithoutACheckpointFailsOnEveryRank) {
  const Data data = writeData(dir);
  TrainingRunOptions resume = tinyRun(data, dir.file("none"), 4, 1, 0);
  resume.resume = true;
  try {
    runRanks(resume, 2);
    FAIL() << "resumed without a checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(Rendezvous, EnvironmentVariables) {
  auto parse = [](std::map<std::string, std::string> vars) {
    return rendezvousFromEnvironment([vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  auto error = [&](std::map<std::string, std::string> vars) {
    try {
      parse(vars);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_FALSE(parse({}).distributed());
  EXPECT_FALSE(parse({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).distributed());  // no MASTER_* needed
  const RendezvousEnv env =
      parse({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}});
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "node0");
  EXPECT_EQ(env.master_port, 29500);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}}).find("MASTER_PORT is not set"),
            std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
                .find("RANK=2 is out of range for WORLD_SIZE=2"),
            std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE must be a non-negative integer, got 'two'"), std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}).find("RANK is not set"),
            std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "0"}}).find("WORLD_SIZE must be >= 1"), std::string::npos);
}

// The overlapped averager on its own, with a stand-in all-reduce (two ranks holding the same
// gradients: the sum doubles them): buckets are started while backward still has the first layer
// ahead, the means equal the plain gradients bit for bit, and a parameter without a gradient counts
// as zeros.
TEST(OverlappedAverager, StartsBucketsDuringBackwardAndLeavesTheMean) {
  torch::manual_seed(3);
  torch::nn::Sequential net(torch::nn::Linear(8, 64), torch::nn::ReLU(), torch::nn::Linear(64, 64), torch::nn::ReLU(),
                            torch::nn::Linear(64, 4));
  torch::nn::Linear unused(2, 2);  // in the averager's parameters, not in the graph
  std::vector<at::Tensor> params = net->parameters();
  for (auto& p : unused->parameters()) params.push_back(p);
  const auto x = torch::randn({5, 8});

  // The plain gradients.
  net->zero_grad();
  net->forward(x).pow(2).sum().backward();
  std::vector<at::Tensor> plain;
  for (auto& p : net->parameters()) plain.push_back(p.grad().clone());

  // First layer's weight: its gradient arrives last. Record how many buckets had started by then.
  bool first_layer_done = false;
  int started_before = 0, started = 0;
  net->parameters()[0].register_hook([&](const at::Tensor&) { first_layer_done = true; });
  OverlappedAverager::Comm comm;
  comm.start = [&](at::Tensor& flat) -> std::function<void()> {
    ++started;
    if (!first_layer_done) ++started_before;
    flat.mul_(2);  // the other rank's identical gradients added
    return [] {};
  };
  comm.to_comm = [](const at::Tensor& t) { return t; };
  comm.world_size = 2;
  OverlappedAverager averager(params, comm, /*bucket_bytes=*/4096);
  ASSERT_GE(averager.buckets(), 3u);

  for (auto& p : params) p.mutable_grad() = torch::full_like(p, 7.0);  // stale values: overwritten
  net->zero_grad();
  averager.arm();
  net->forward(x).pow(2).sum().backward();
  averager.finish();
  EXPECT_GT(started_before, 0) << "no bucket started before backward reached the first layer";
  EXPECT_EQ(started, static_cast<int>(averager.buckets()));
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::equal(net->parameters()[i].grad(), plain[i])) << i;
  for (auto& p : unused->parameters()) EXPECT_EQ(p.grad().abs().sum().item<float>(), 0.0f);
  // Not armed: a backward pass leaves the gradients to autograd alone.
  net->zero_grad();
  net->forward(x).pow(2).sum().backward();
  EXPECT_TRUE(torch::equal(net->parameters()[0].grad(), plain[0]));
}
