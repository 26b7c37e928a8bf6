// derain-train-bench: training iterations per second of each preset (G step + D step on random
// crops, batch 1 per rank), the figure that says how long a training run will take on this machine,
// for world sizes 1 and 2: one process with every core, or W local data-parallel processes (Gloo over
// loopback) sharing the cores. Next to the machine's 3x3-conv ceiling measured in the same run: the
// achieved conv GFLOP/s counts every aten::convolution of a step (forward) and of its backward
// (aten::convolution_backward: input and weight gradients), all ranks together.
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/record_function.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include <torch/torch.h>

#include "cli_args.hpp"
#include "conv_ceiling.hpp"
#include "engine_args.hpp"
#include "run_main.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "networks.h"
#include "runtime.h"
#include "training/distributed.h"
#include "training/local_launcher.h"
#include "training/step_losses.h"
#include "training/trainer.h"

namespace dt = derain::detail;  // ("detail" alone is ambiguous with LibTorch's)

namespace {

// Convolution FLOPs (2 x multiply-adds) seen while counting is on.
std::atomic<bool> g_counting{false};
std::atomic<double> g_conv_flops{0};

double convFlops(const at::Tensor& input, const at::Tensor& weight, c10::ArrayRef<int64_t> stride,
                 c10::ArrayRef<int64_t> padding, c10::ArrayRef<int64_t> dilation, bool transposed) {
  if (input.dim() != 4 || weight.dim() != 4) return 0;
  const double per_position = 2.0 * static_cast<double>(weight.numel());
  double positions = static_cast<double>(input.size(0));
  if (transposed) return per_position * positions * static_cast<double>(input.size(2) * input.size(3));
  for (int d = 0; d < 2; ++d) {
    const int64_t k = weight.size(2 + d);
    const int64_t out = (input.size(2 + d) + 2 * padding[d] - dilation[d] * (k - 1) - 1) / stride[d] + 1;
    positions *= static_cast<double>(out);
  }
  return per_position * positions;
}

std::unique_ptr<at::ObserverContext> onOp(const at::RecordFunction& fn) {
  if (!g_counting.load(std::memory_order_relaxed)) return nullptr;
  const std::string name = fn.name();
  const auto in = fn.inputs();
  double flops = 0;
  if (name == "aten::convolution" && in.size() >= 7 && in[0].isTensor() && in[1].isTensor()) {
    flops = convFlops(in[0].toTensor(), in[1].toTensor(), in[3].toIntVector(), in[4].toIntVector(),
                      in[5].toIntVector(), in[6].toBool());
  } else if (name == "aten::convolution_backward" && in.size() >= 11 && in[1].isTensor() && in[2].isTensor()) {
    // (grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed, output_padding,
    //  groups, output_mask): each of the input and weight gradients costs one forward.
    const auto mask = in[10].toBoolList();
    const double passes = (mask.get(0) ? 1.0 : 0.0) + (mask.get(1) ? 1.0 : 0.0);
    flops = passes * convFlops(in[1].toTensor(), in[2].toTensor(), in[4].toIntVector(), in[5].toIntVector(),
                               in[6].toIntVector(), in[7].toBool());
  }
  if (flops > 0) {
    double old = g_conv_flops.load();
    while (!g_conv_flops.compare_exchange_weak(old, old + flops)) {
    }
  }
  return nullptr;
}

struct Measure {
  int iters = 0;
  double seconds = 0, g_seconds = 0, d_seconds = 0;
  double conv_flops_per_step = 0;  // this rank's
  long long parameters = 0;
};

// One rank's timed steps (dp: null for one process).
Measure measure(const std::string& preset, int crop, int iters, bool perceptual, torch::Device device,
                dt::DataParallel* dp) {
  const derain::ModelConfig config = derain::ModelConfig::fromPreset(preset);
  dt::TrainingOptions options;
  options.crop = crop;
  options.iterations = 1000;
  options.validate(config);
  dt::VGG16Features vgg = nullptr;
  if (perceptual) vgg = dt::VGG16Features();
  dt::Trainer trainer(config, options, device, vgg);
  if (dp) dp->attach(trainer, nullptr);
  torch::manual_seed(dp ? static_cast<uint64_t>(dp->rank()) : 0);
  auto rainy = torch::rand({1, 3, crop, crop}) * 2 - 1, clean = torch::rand({1, 3, crop, crop}) * 2 - 1;
  // Warm-up (allocator, oneDNN primitive caches), also counting the step's convolution FLOPs.
  // (The observer copies every op's inputs: it is on for this step only.)
  g_conv_flops = 0;
  g_counting = true;
  const at::CallbackHandle counter =
      at::addGlobalCallback(at::RecordFunctionCallback(onOp).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
  dt::StepLosses warm = trainer.step(rainy, clean, options.lr);
  at::removeCallback(counter);
  g_counting = false;
  if (dp) dp->finishStep(warm, false);  // also lines the ranks up before the clock starts
  Measure m;
  m.iters = iters;
  m.conv_flops_per_step = g_conv_flops.load();
  m.parameters = static_cast<long long>(dt::countParameters(*trainer.model()));
  using Clock = std::chrono::steady_clock;
  auto since = [&](Clock::time_point t) {
    if (device.is_cuda()) torch::cuda::synchronize();
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  const auto start = Clock::now();
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    dt::StepLosses losses = trainer.generatorStep(rainy, clean, options.lr);
    m.g_seconds += since(t0);
    auto t1 = Clock::now();
    trainer.discriminatorStep(losses, options.lr);
    if (dp) dp->finishStep(losses, false);  // as the training loop does: averaged losses
    m.d_seconds += since(t1);
  }
  m.seconds = since(start);
  return m;
}

void printRow(const std::string& preset, int world, int threads, const Measure& m, double ceiling) {
  const double its = m.iters / m.seconds;
  const double gflops = m.conv_flops_per_step * world * its / 1e9;
  std::printf("%-7s %5d %7d %11lld %6d %8.3f %9.3f %8.3f %8.3f %8.3f %9.1f %6.1f%%\n", preset.c_str(), world, threads,
              m.parameters, m.iters, its, its * world, m.seconds / m.iters, m.g_seconds / m.iters,
              m.d_seconds / m.iters, gflops, ceiling > 0 ? 100.0 * gflops / ceiling : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-train-bench", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    using namespace derain;
    cli::ArgParser args("derain-train-bench",
                        "Measure DerainCycleGAN training speed (iterations/s) per preset and data-parallel world size.");
    args.option("presets", "LIST", "comma-separated presets", "lite,paper");
    args.option("crop", "PX", "training crop side", "216");
    args.option("iters", "N", "timed iterations of the lite preset", "10");
    args.option("paper-iters", "N", "timed iterations of the paper preset (slow on CPU)", "3");
    args.option("device", "DEV", "cpu, cuda or auto", "cpu");
    args.option("threads", "N", "LibTorch intra-op threads in all, shared by the ranks; 0 = every core", "0");
    args.option("world-sizes", "LIST", "data-parallel world sizes: W local processes, batch 1 each", "1,2");
    args.flag("perceptual", "include the perceptual loss (random VGG16 weights: same cost)");
    args.flag("worker", "(internal) one rank of a data-parallel measurement, from RANK/WORLD_SIZE/...");
    args.parse(argc, argv);

    const int crop = args.getInt("crop", 16, 4096);
    const int threads = cli::threadsOption(args);
    const int lite_iters = args.getInt("iters", 1), paper_iters = args.getInt("paper-iters", 1);
    torch::Device device = torch::kCPU;
    int total_threads = 1;
    try {
      device = dt::torchDevice(dt::resolveDevice(parseDevice(args.get("device"))));
      total_threads = dt::resolveThreads(threads);
    } catch (const Error& e) {
      args.fail(e.what());
    }
    auto itersOf = [&](const std::string& preset) {
      return preset == "paper" ? paper_iters : lite_iters;
    };
    if (args.flagSet("worker")) {  // one rank: --presets holds one preset, --threads this rank's threads
      try {
        const dt::RendezvousEnv env = dt::rendezvousFromEnvironment();
        dt::applyThreads(total_threads);
        if (device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
        dt::DataParallel dp(env, device, std::chrono::seconds(600));
        const std::string preset = args.get("presets");
        const Measure m = measure(preset, crop, itersOf(preset), args.flagSet("perceptual"), device, &dp);
        const char* ceiling = std::getenv("DERAIN_BENCH_CEILING");  // measured once by the parent
        if (env.rank == 0) printRow(preset, env.world_size, total_threads, m, ceiling ? std::atof(ceiling) : 0.0);
        return 0;
      } catch (const std::exception& e) {
        std::cerr << "derain-train-bench: worker: " << e.what() << "\n";
        return 1;
      }
    }

    std::vector<int> worlds;
    {
      std::stringstream list(args.get("world-sizes"));
      for (std::string w; std::getline(list, w, ',');) {
        try {
          worlds.push_back(std::stoi(w));
        } catch (const std::exception&) {
          args.fail("--world-sizes: '" + w + "' is not a number");
        }
        if (worlds.back() < 1 || worlds.back() > 64) args.fail("--world-sizes: sizes must be 1..64");
      }
    }
    const double ceiling = device.is_cuda() ? 0.0 : bench::convCeilingGflops(Precision::FP32, total_threads);
    dt::applyThreads(total_threads);
    std::printf("derain-train-bench: %s, %d threads in all, %dx%d crops, batch 1 per rank, perceptual %s\n",
                device.str().c_str(), total_threads, crop, crop, args.flagSet("perceptual") ? "on" : "off");
    if (!device.is_cuda())
      std::printf("%s\n", bench::ceilingLine(Precision::FP32, ceiling, total_threads).c_str());
    std::printf("%-7s %5s %7s %11s %6s %8s %9s %8s %8s %8s %9s %7s\n", "preset", "world", "thr/rk", "parameters",
                "iters", "it/s", "samples/s", "s/it", "G s/it", "D s/it", "conv GF/s", "ceil");
    std::fflush(stdout);

    std::stringstream list(args.get("presets"));
    std::string name;
    while (std::getline(list, name, ',')) {
      for (const int world : worlds) {
        try {
          if (world == 1) {
            printRow(name, 1, total_threads, measure(name, crop, itersOf(name), args.flagSet("perceptual"), device, nullptr),
                     ceiling);
            continue;
          }
          // W local ranks share the cores (at least one thread each).
          const int per_rank = std::max(1, total_threads / world);
          std::vector<std::string> worker{"--worker", "--presets", name, "--crop", std::to_string(crop), "--iters",
                                          args.get("iters"), "--paper-iters", args.get("paper-iters"), "--device",
                                          args.get("device"), "--threads", std::to_string(per_rank)};
          if (args.flagSet("perceptual")) worker.push_back("--perceptual");
          setenv("DERAIN_BENCH_CEILING", std::to_string(ceiling).c_str(), 1);
          const int code = dt::runLocalWorkers(world, worker, [](const std::string& m) {
            if (m.rfind("started", 0) != 0) std::cerr << "derain-train-bench: " << m << "\n";
          });
          if (code != 0) {
            std::cerr << "derain-train-bench: world size " << world << " failed (status " << code << ")\n";
            return 1;
          }
        } catch (const Error& e) {
          std::cerr << "derain-train-bench: " << e.what() << "\n";
          return 1;
        }
      }
    }
    return 0;
  });
}
