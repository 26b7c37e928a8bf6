// derain-train-bench: training iterations per second of each preset (G step + D step on random
// crops, batch 1), the figure that says how long a training run will take on this machine.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "cli_args.hpp"
#include "engine_args.hpp"
#include "run_main.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "networks.h"
#include "runtime.h"
#include "training/trainer.h"

namespace dt = derain::detail;  // ("detail" alone is ambiguous with LibTorch's)

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-train-bench", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    using namespace derain;
    cli::ArgParser args("derain-train-bench", "Measure DerainCycleGAN training speed (iterations/s) per preset.");
    args.option("presets", "LIST", "comma-separated presets", "lite,paper");
    args.option("crop", "PX", "training crop side", "216");
    args.option("iters", "N", "timed iterations of the lite preset", "10");
    args.option("paper-iters", "N", "timed iterations of the paper preset (slow on CPU)", "3");
    args.option("device", "DEV", "cpu, cuda or auto", "cpu");
    args.option("threads", "N", "LibTorch intra-op threads, 0 = every core", "0");
    args.flag("perceptual", "include the perceptual loss (random VGG16 weights: same cost)");
    args.parse(argc, argv);

    const int crop = args.getInt("crop", 16, 4096);
    const int threads = cli::threadsOption(args);
    const int lite_iters = args.getInt("iters", 1), paper_iters = args.getInt("paper-iters", 1);
    torch::Device device = torch::kCPU;
    try {
      device = dt::torchDevice(dt::resolveDevice(parseDevice(args.get("device"))));
      dt::applyThreads(dt::resolveThreads(threads));
    } catch (const Error& e) {
      args.fail(e.what());
    }
    std::printf("derain-train-bench: %s, %d threads, %dx%d crops, batch 1, perceptual %s\n",
                device.str().c_str(), at::get_num_threads(), crop, crop, args.flagSet("perceptual") ? "on" : "off");
    std::printf("%-8s %12s %8s %10s %10s %10s %10s\n", "preset", "parameters", "iters", "it/s", "s/it", "G s/it",
                "D s/it");

    std::stringstream list(args.get("presets"));
    std::string name;
    while (std::getline(list, name, ',')) {
      try {
        const ModelConfig config = ModelConfig::fromPreset(name);
        dt::TrainingOptions options;
        options.crop = crop;
        options.iterations = 1000;
        options.validate(config);
        dt::VGG16Features vgg = nullptr;
        if (args.flagSet("perceptual")) vgg = dt::VGG16Features();
        dt::Trainer trainer(config, options, device, vgg);
        const int iters = name == "paper" ? paper_iters : lite_iters;
        auto rainy = torch::rand({1, 3, crop, crop}) * 2 - 1, clean = torch::rand({1, 3, crop, crop}) * 2 - 1;
        trainer.step(rainy, clean, options.lr);  // warm-up: allocator, oneDNN primitive caches
        // Timed apart: the G step (U-ARSE x4, each G x2, D scoring) and the D step (4 D passes).
        double g_seconds = 0, d_seconds = 0;
        using Clock = std::chrono::steady_clock;
        auto since = [&](Clock::time_point t) {
          if (device.is_cuda()) torch::cuda::synchronize();
          return std::chrono::duration<double>(Clock::now() - t).count();
        };
        for (int i = 0; i < iters; ++i) {
          auto t0 = Clock::now();
          dt::StepLosses losses = trainer.generatorStep(rainy, clean, options.lr);
          g_seconds += since(t0);
          auto t1 = Clock::now();
          trainer.discriminatorStep(losses, options.lr);
          d_seconds += since(t1);
        }
        const double seconds = g_seconds + d_seconds;
        std::printf("%-8s %12lld %8d %10.3f %10.3f %10.3f %10.3f\n", name.c_str(),
                    static_cast<long long>(dt::countParameters(*trainer.model())), iters, iters / seconds,
                    seconds / iters, g_seconds / iters, d_seconds / iters);
        std::fflush(stdout);
      } catch (const Error& e) {
        std::cerr << "derain-train-bench: error: " << name << ": " << e.what() << "\n";
        return 1;
      }
    }
    return 0;
  });
}
