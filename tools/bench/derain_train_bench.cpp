// derain-train-bench: training iterations per second of each preset (G step + D step on random
// crops, batch 1 per rank), the figure that says how long a training run will take on this machine,
// for world sizes 1 and 2: one process with every core, or W local data-parallel processes (Gloo over
// loopback) sharing the cores. Next to the machine's 3x3-conv ceiling measured in the same run: the
// achieved conv GFLOP/s counts every aten::convolution of a step (forward) and of its backward
// (aten::convolution_backward: input and weight gradients), all ranks together.
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/record_function.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "cli_args.hpp"
#include "conv_ceiling.hpp"
#include "engine_args.hpp"
#include "run_main.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "model_file.h"
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

// --profile: wall time of the trainer's phases (its USER_SCOPE ranges, training/trainer.cpp) and
// the self time of every op (its time minus that of the ops it called), per name.
using ProfileClock = std::chrono::steady_clock;
struct ProfileTotals {
  std::mutex mutex;
  std::map<std::string, double> phase_seconds;
  std::map<std::string, std::pair<double, long long>> op_self_seconds;  // name -> (seconds, calls)
};
ProfileTotals g_profile;
// Per thread: for each op open on it, the time spent in the ops it called so far.
thread_local std::vector<double> t_children_seconds;

struct ProfileContext : at::ObserverContext {
  ProfileClock::time_point start = ProfileClock::now();
};

std::unique_ptr<at::ObserverContext> onProfileStart(const at::RecordFunction& fn) {
  if (fn.scope() != at::RecordScope::USER_SCOPE) t_children_seconds.push_back(0.0);
  return std::make_unique<ProfileContext>();
}

void onProfileEnd(const at::RecordFunction& fn, at::ObserverContext* context) {
  const double seconds =
      std::chrono::duration<double>(ProfileClock::now() - static_cast<ProfileContext*>(context)->start).count();
  if (fn.scope() == at::RecordScope::USER_SCOPE) {
    std::lock_guard<std::mutex> lock(g_profile.mutex);
    g_profile.phase_seconds[fn.name()] += seconds;
    return;
  }
  const double self = seconds - t_children_seconds.back();
  t_children_seconds.pop_back();
  if (!t_children_seconds.empty()) t_children_seconds.back() += seconds;
  std::lock_guard<std::mutex> lock(g_profile.mutex);
  auto& entry = g_profile.op_self_seconds[fn.name()];
  entry.first += self;
  entry.second += 1;
}

void printProfile(int iters, double step_seconds) {
  std::lock_guard<std::mutex> lock(g_profile.mutex);
  std::printf("  profile, per step (%.3f s/it with the profiler on):\n", step_seconds);
  std::printf("    %-28s %9s %7s\n", "phase", "ms/it", "share");
  for (const auto& [name, seconds] : g_profile.phase_seconds)
    std::printf("    %-28s %9.1f %6.1f%%\n", name.c_str(), 1e3 * seconds / iters, 100.0 * seconds / iters / step_seconds);
  std::vector<std::pair<std::string, std::pair<double, long long>>> ops(g_profile.op_self_seconds.begin(),
                                                                      g_profile.op_self_seconds.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  constexpr size_t kTopOps = 20;
  std::printf("    %-60s %9s %7s %8s\n", "op (self time)", "ms/it", "share", "calls/it");
  for (size_t i = 0; i < std::min(kTopOps, ops.size()); ++i)
    std::printf("    %-60s %9.1f %6.1f%% %8.1f\n", ops[i].first.substr(0, 60).c_str(), 1e3 * ops[i].second.first / iters,
                100.0 * ops[i].second.first / iters / step_seconds, static_cast<double>(ops[i].second.second) / iters);
  g_profile.phase_seconds.clear();
  g_profile.op_self_seconds.clear();
  std::fflush(stdout);
}

struct Measure {
  int iters = 0;
  double seconds = 0, g_seconds = 0, d_seconds = 0;
  // This process's CPU time (all its threads): less sensitive than wall time to other jobs taking
  // the cores, though libgomp's spin-waiting counts in it.
  double cpu_seconds = 0;
  double conv_flops_per_step = 0;  // this rank's
  long long parameters = 0;
  bool profiled = false;  // printProfile() has this measurement's breakdown
};

// What measure() times: a preset's fresh networks, or U-ARSE and the generators of a model file
// (trained weights: their activations and gradients differ from fresh ones, denormals included).
struct BenchModel {
  std::string preset;
  std::string model_path;  // empty: fresh weights
  bool flush_denormals = true;  // the trainer's default; false measures what denormal floats cost
  std::string precision = dt::TrainingOptions{}.precision;
};

// One rank's timed steps (dp: null for one process).
Measure measure(const BenchModel& what, int crop, int iters, bool perceptual, torch::Device device,
                dt::DataParallel* dp, bool profile) {
  std::optional<dt::ContainerFile> file;
  if (!what.model_path.empty()) file = dt::readContainer(what.model_path);
  const derain::ModelConfig config =
      file ? dt::configOf(*file, what.model_path) : derain::ModelConfig::fromPreset(what.preset);
  dt::TrainingOptions options;
  options.crop = crop;
  options.iterations = 1000;
  options.precision = what.precision;
  options.validate(config);
  dt::VGG16Features vgg = nullptr;
  if (perceptual) vgg = dt::VGG16Features();
  dt::Trainer trainer(config, options, device, vgg);
  if (file) dt::loadParameters(*trainer.model(), *file, what.model_path, dt::kInferencePrefixes);
  trainer.setFlushDenormals(what.flush_denormals);
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
  std::optional<at::CallbackHandle> profiler;
  if (profile)
    profiler = at::addGlobalCallback(at::RecordFunctionCallback(onProfileStart, onProfileEnd)
                                         .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION,
                                                  at::RecordScope::USER_SCOPE}));
  const auto start = Clock::now();
  const std::clock_t cpu_start = std::clock();
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
  m.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  if (profiler) {
    at::removeCallback(*profiler);
    m.profiled = true;
  }
  return m;
}

const char* denormalsName(bool flush) { return flush ? "flush" : "keep"; }

void printRow(const BenchModel& what, int world, int threads, const Measure& m, double ceiling) {
  const double its = m.iters / m.seconds;
  const double gflops = m.conv_flops_per_step * world * its / 1e9;
  const std::string label = what.model_path.empty() ? what.preset : what.preset + "(file)";
  std::printf("%-11s %4s %6s %5d %7d %11lld %6d %8.3f %9.3f %8.3f %8.3f %8.3f %9.3f %9.1f %6.1f%%\n", label.c_str(),
              what.precision.c_str(), denormalsName(what.flush_denormals), world, threads,
              m.parameters, m.iters, its, its * world, m.seconds / m.iters, m.g_seconds / m.iters,
              m.d_seconds / m.iters, m.cpu_seconds / m.iters, gflops, ceiling > 0 ? 100.0 * gflops / ceiling : 0.0);
  std::fflush(stdout);
  if (m.profiled) printProfile(m.iters, m.seconds / m.iters);
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
    args.option("precisions", "LIST", "training precisions: fp32, bf16 or fp32,bf16", "fp32");
    args.option("denormals", "LIST",
                "flush (the trainer's default), keep (measures what denormal floats cost), or flush,keep", "flush");
    args.option("model", "FILE",
                "start U-ARSE and the generators from this model file (e.g. the shipped default) instead of the "
                "fresh presets; timed under the file's preset, marked (file)");
    args.flag("perceptual", "include the perceptual loss (random VGG16 weights: same cost)");
    args.flag("profile",
              "after each world-size-1 row: time per step phase and the ops' self times (that row's times include "
              "the profiler's overhead)");
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
    const std::string model_path = args.has("model") ? args.get("model") : std::string();
    std::string model_preset;
    if (!model_path.empty()) {
      try {
        model_preset = dt::configOf(dt::readContainer(model_path), model_path).preset;
      } catch (const std::exception& e) {
        args.fail(e.what());
      }
    }
    std::vector<std::string> precisions;
    {
      std::stringstream list(args.get("precisions"));
      for (std::string p; std::getline(list, p, ',');) {
        if (p != "fp32" && p != "bf16") args.fail("--precisions: '" + p + "' is neither fp32 nor bf16");
        precisions.push_back(p);
      }
    }
    std::vector<bool> denormal_modes;  // flush?
    {
      std::stringstream list(args.get("denormals"));
      for (std::string mode; std::getline(list, mode, ',');) {
        if (mode != "flush" && mode != "keep") args.fail("--denormals: '" + mode + "' is neither flush nor keep");
        denormal_modes.push_back(mode == "flush");
      }
    }
    if (args.flagSet("worker")) {  // one rank: --presets holds one preset, --threads this rank's threads
      try {
        const dt::RendezvousEnv env = dt::rendezvousFromEnvironment();
        dt::applyThreads(total_threads);
        if (device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
        dt::DataParallel dp(env, device, std::chrono::seconds(600));
        // --presets, --precisions and --denormals hold one value each here.
        const BenchModel what{model_path.empty() ? args.get("presets") : model_preset, model_path,
                              denormal_modes.at(0), precisions.at(0)};
        const Measure m = measure(what, crop, itersOf(what.preset), args.flagSet("perceptual"), device, &dp, false);
        const char* ceiling = std::getenv("DERAIN_BENCH_CEILING");  // measured once by the parent
        if (env.rank == 0) printRow(what, env.world_size, total_threads, m, ceiling ? std::atof(ceiling) : 0.0);
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
    if (!device.is_cuda()) {
      std::printf("%s\n", bench::ceilingLine(Precision::FP32, ceiling, total_threads).c_str());
      // The share column stays relative to the fp32 ceiling; this line says what bf16 could reach.
      if (std::find(precisions.begin(), precisions.end(), "bf16") != precisions.end())
        std::printf("%s\n", bench::ceilingLine(Precision::BF16, bench::convCeilingGflops(Precision::BF16, total_threads),
                                               total_threads)
                                .c_str());
    }
    std::printf("%-11s %4s %6s %5s %7s %11s %6s %8s %9s %8s %8s %8s %9s %9s %7s\n", "preset", "prec", "denorm", "world", "thr/rk", "parameters",
                "iters", "it/s", "samples/s", "s/it", "G s/it", "D s/it", "cpu s/it", "conv GF/s", "ceil");
    std::fflush(stdout);

    std::stringstream list(model_path.empty() ? args.get("presets") : model_preset);
    std::string name;
    while (std::getline(list, name, ',')) {
      for (const std::string& precision : precisions) {
        for (const bool flush : denormal_modes) {
          for (const int world : worlds) {
            const BenchModel what{name, model_path, flush, precision};
            try {
              if (world == 1) {
                printRow(what, 1, total_threads,
                         measure(what, crop, itersOf(name), args.flagSet("perceptual"), device, nullptr,
                                 args.flagSet("profile")),
                         ceiling);
                continue;
              }
              // W local ranks share the cores (at least one thread each).
              const int per_rank = std::max(1, total_threads / world);
              std::vector<std::string> worker{"--worker", "--presets", name, "--crop", std::to_string(crop), "--iters",
                                              args.get("iters"), "--paper-iters", args.get("paper-iters"), "--device",
                                              args.get("device"), "--threads", std::to_string(per_rank),
                                              "--denormals", denormalsName(flush), "--precisions", precision};
              if (args.flagSet("perceptual")) worker.push_back("--perceptual");
              if (!model_path.empty()) worker.insert(worker.end(), {"--model", model_path});
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
      }
    }
    return 0;
  });
}
