// derain-train: trains a DerainCycleGAN model from two folders of unpaired images (rainy and clean)
// into a model file the inference API loads. A thin command line over libderain's training run.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "cli_args.hpp"
#include "engine_args.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "file_list.hpp"
#include "progress_bar.hpp"
#include "runtime.h"
#include "key_value.h"
#include "training/distributed.h"
#include "training/local_launcher.h"
#include "training/training_run.h"

namespace dt = derain::detail;  // ("detail" alone is ambiguous with LibTorch's)

namespace {

volatile std::sig_atomic_t g_signal = 0;  // the handler only records the signal; the loop acts on it

extern "C" void onSignal(int signo) { g_signal = signo; }

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  action.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once (the last checkpoint stays intact)
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw derain::Error("cannot read the config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Nothing the run reads lies where it writes. A data folder that is, holds or lies in --out would
// take in the run's samples (or scatter them among the data); an input file inside --out could be
// replaced by a run output of its name once --force starts over there (a resumed run writes only
// its own files).
void refuseInputsInOutput(const derain::cli::ArgParser& args, const std::string& out, bool resuming) {
  for (const std::string name : {"rainy", "clean", "pairs"}) {
    if (!args.has(name)) continue;
    const std::string input = args.get(name);
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) derain::cli::refuseNestedFolders(input, "--" + name, out, "--out");
  }
  if (resuming) return;
  for (const std::string name : {"rainy", "clean", "config", "vgg-weights"})
    if (args.has(name) && derain::cli::liesWithin(args.get(name), out))
      throw derain::Error("refusing --" + name + " '" + args.get(name) + "': it lies in the output folder --out '" +
                          out + "', whose files a fresh run replaces (move it out, or choose another folder)");
}

std::string shortLosses(const dt::StepLosses& l) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "G %.3f (adv %.3f cyc %.3f att %.3f gmm %.3f syn %.3f) D_N %.3f D_R %.3f",
                l.generator, l.adversarial, l.cycle, l.attention_r + l.attention_n, l.gmm, l.synthetic, l.d_n, l.d_r);
  return buf;
}

constexpr const char* kEpilog = R"(Data: every PNG/JPEG/BMP/TIFF/WebP file of --rainy and --clean (unpaired: no correspondence
needed). Files that cannot be decoded or are smaller than the crop are skipped with a warning and
counted; a folder without a single usable image is an error.

Settings are applied in this order: --preset, then --config FILE, then the options above. A config file
holds ModelConfig lines ("attention.stages = 6", "generator.channels = 64", ...) and training lines:
  train.iterations  train.epochs  train.decay_start  train.lr  train.beta1  train.beta2
  train.weight_decay  train.crop  train.batch  train.pool_size  train.gmm.components
  train.gmm.em_iterations  train.adversarial.g_scales  train.adversarial.d_scales
  train.attention.prior  train.recipe  train.seed  train.init  train.vgg_weights  train.weight.adversarial
  train.weight.attention  train.weight.cycle  train.weight.perceptual  train.weight.gmm
  train.weight.reconstruction  train.weight.identity  train.weight.synthetic
  train.synthetic.{density,angle,angle_jitter,length,width,intensity,haze} = MIN:MAX
    (the procedural rain of the synthetic-pair term, as derain-synth's options)
  train.synthetic.pairs = DIR   (the term's pairs from disk instead, as --pairs; the recipe line in
    model.derain says which: procedural pairs, or pairs from DIR)
OUT/training.conf of any run is a complete example.

Output folder: a fresh run needs an empty or new --out (--force starts over in a used one), which
may neither be nor hold nor lie in a data folder, nor hold an input file; while it runs, the trainer
holds a lock on it (.derain-train.lock), so a second trainer on it fails at once.
Every file is replaced atomically (temporary file + rename). checkpoint.derain (latest checkpoint:
by default every 10 % of the run, at most 1000 iterations apart, and every 10 minutes), losses.csv
(every loss term of every iteration),
loss_plot.png, samples/iter_NNNNNNN.png (rows: r, Att(r), n_r and n, Att(n), r_n), training.conf and,
once the run completes, model.derain (load it with derain::Engine, derain-rainmake, the GStreamer
elements...).

Interrupting (Ctrl-C / SIGTERM) finishes the current iteration, writes the checkpoint and exits with
status 130 (SIGINT) or 143 (SIGTERM); a second Ctrl-C kills at once (the last checkpoint stays intact). --resume continues from OUT/checkpoint.derain with the settings
stored there (model, training options, seed) and reproduces an uninterrupted run's losses exactly on
the CPU with the same thread count (on CUDA closely, GPU kernels are not bitwise deterministic); only --iters/--epochs (to extend the run), --vgg-weights (a moved
file), device, threads and the intervals may be given again.

Data-parallel training (see training/README.md, "Distributed training"): --nproc-per-node N starts N
local workers; or start one process per rank yourself with torchrun's variables RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT (Slurm: derive them from SLURM_PROCID / SLURM_NTASKS). --batch is
per rank: the effective batch is --batch x WORLD_SIZE. Rank 0 writes the output folder.

Exit status: 0 done (or stopped by --stop-after), 1 error, 2 usage error, 130/143 interrupted.

Example:
  derain-train --rainy data/rainy --clean data/clean --out runs/lite --preset lite --iters 20000 \
               --vgg-weights vgg16_features.derain)";

// The run's training settings that an option overrides (after the preset and the config file). One
// row each: the option, its help, and where its value goes. A run's settings live in its checkpoint,
// so none of these may change on --resume.
struct SettingOption {
  const char* name;
  const char* value_name;
  const char* help;
  std::function<void(const derain::cli::ArgParser&, derain::detail::TrainingOptions&)> apply;
};

const std::vector<SettingOption>& settingOptions() {
  using derain::cli::ArgParser;
  using T = derain::detail::TrainingOptions;
  using W = derain::detail::LossWeights;
  auto real = [](const char* name, double T::*field) {
    return [name, field](const ArgParser& args, T& t) { t.*field = args.getDouble(name); };
  };
  auto weight = [](const char* name, double W::*field) {
    return [name, field](const ArgParser& args, T& t) { t.weights.*field = args.getDouble(name); };
  };
  auto atLeast = [](const char* name, int T::*field, int min) {
    return [name, field, min](const ArgParser& args, T& t) { t.*field = args.getInt(name, min); };
  };
  static const std::vector<SettingOption> table = {
      {"crop", "PX", "side of the square random training crops [default: 216]", atLeast("crop", &T::crop, 1)},
      {"batch", "N", "images per domain per iteration (per rank) [default: 1]", atLeast("batch", &T::batch, 1)},
      {"lr", "X", "Adam learning rate, constant then linearly decayed to 0 [default: 1e-4]", real("lr", &T::lr)},
      {"decay-start", "F", "fraction of the run before the lr decay starts [default: 0.5]",
       real("decay-start", &T::decay_start)},
      {"w-adv", "X", "weight of the adversarial loss [default: 1]", weight("w-adv", &W::adversarial)},
      {"w-att", "X", "weight of the attention loss [default: 10]", weight("w-att", &W::attention)},
      {"w-cycle", "X", "weight of the cycle-consistency loss [default: 10]", weight("w-cycle", &W::cycle)},
      {"w-perceptual", "X", "weight of the perceptual loss [default: 0.01]", weight("w-perceptual", &W::perceptual)},
      {"w-gmm", "X", "weight of the GMM loss [default: 10]", weight("w-gmm", &W::gmm)},
      {"w-rec", "X", "weight of the reconstruction loss [default: 10]", weight("w-rec", &W::reconstruction)},
      {"w-identity", "X", "weight of the identity term, not in the paper [default: 0 = off]",
       weight("w-identity", &W::identity)},
      {"w-synthetic", "X", "weight of the synthetic-pair term, not in the paper [default: 0 = off]",
       weight("w-synthetic", &W::synthetic)},
      {"pairs", "DIR",
       "the synthetic-pair term's pairs from disk: DIR/rainy/NAME and DIR/clean/NAME (same name, the extension "
       "may differ), one random crop and flip for both; a file without its partner, or two sizes that differ, "
       "is an error [default: procedural rain drawn over the clean crops]",
       [](const ArgParser& args, T& t) {
         // Absolute, so that --resume from another folder finds it (the checkpoint keeps the setting).
         t.synthetic_pairs = std::filesystem::absolute(args.get("pairs")).lexically_normal().string();
       }},
      {"g-adversarial-scales", "HOW",
       "discriminator scales in G's adversarial term: finest, mean or sum [default: finest, the reference code's]",
       [](const ArgParser& args, T& t) { t.g_adversarial_scales = args.get("g-adversarial-scales"); }},
      {"d-adversarial-scales", "HOW",
       "discriminator scales in D's loss: finest, mean or sum [default: mean, the reference code's]",
       [](const ArgParser& args, T& t) { t.d_adversarial_scales = args.get("d-adversarial-scales"); }},
      {"attention-prior", "on|off",
       "pull a rainy image's mask towards the paper's random prior (L_att_r) [default: off, as the reference code]",
       [](const ArgParser& args, T& t) {
         const std::string v = args.get("attention-prior");
         if (v != "on" && v != "off") args.fail("--attention-prior must be on or off, got '" + v + "'");
         t.attention_prior = v == "on";
       }},
      {"gmm-components", "K", "Gaussian components of the GMM loss [default: 3]",
       atLeast("gmm-components", &T::gmm_components, 1)},
      {"gmm-variance-floor", "V",
       "smallest variance of a GMM component on the [-1, 1] scale; 1e-3 (about 4 grey levels) bounds the "
       "reward for a removed layer that shrinks to nothing (it does not stop lite's collapse to the identity "
       "on its own) [default: 1e-6, a numeric guard only]",
       [](const ArgParser& args, T& t) { t.gmm_variance_floor = args.getDouble("gmm-variance-floor"); }},
      {"pool-size", "N", "history pool of generated images per domain [default: 50]",
       atLeast("pool-size", &T::pool_size, 0)},
      {"init", "NAME", "weight initialisation: paper (N(0, 0.02)) or he (identity generators) [default: paper]",
       [](const ArgParser& args, T& t) { t.init = args.get("init"); }},
      {"recipe", "NAME",
       "name of the training recipe, recorded in model.derain (derain-run prints it) [default: from the objective: "
       "unpaired, unpaired + identity, or semi-supervised (synthetic pairs)]",
       [](const ArgParser& args, T& t) { t.recipe = args.get("recipe"); }},
      {"precision", "P",
       "forward arithmetic: fp32, or bf16 (convolutions in bfloat16, fp32 master weights; fast on CPUs with "
       "avx512_bf16) [default: fp32]",
       [](const ArgParser& args, T& t) { t.precision = args.get("precision"); }},
      {"seed", "N", "random seed: weights, sampling, crops, priors, pools [default: 0]",
       [](const ArgParser& args, T& t) { t.seed = static_cast<uint64_t>(args.getInt("seed", 0)); }},
  };
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-train", [&] {
    derain::keepFreedBuffersForReuse();  // this process derains frame after frame (process.hpp)
    using namespace derain;
    cli::ArgParser args("derain-train", "Train a DerainCycleGAN model from unpaired rainy and clean images.");
    args.option("rainy", "DIR", "folder of rainy images and/or videos (or one video file)", "", true);
    args.option("clean", "DIR", "folder of clean (rain-free) images and/or videos (or one video file)", "", true);
    args.option("out", "DIR", "output folder (checkpoints, logs, samples, model.derain)", "", true);
    args.option("preset", "NAME", "model architecture: paper or lite", "paper");
    args.option("config", "FILE", "model and training settings (key = value lines, see below)");
    args.option("iters", "N", "total training iterations (overrides --epochs)");
    args.option("epochs", "N", "total epochs, each one pass over the larger folder [default: 400]");
    args.option("vgg-weights", "FILE", "VGG16 features file for the perceptual loss (off without it)");
    for (const auto& setting : settingOptions()) args.option(setting.name, setting.value_name, setting.help);
    args.option("device", "DEV", "cpu, cuda or auto (CUDA when available)", "auto");
    args.option("threads", "N", "LibTorch intra-op threads, 0 = every core", "0");
    args.option("loader-threads", "N", "image decoding threads", "2");
    args.option("cache-mb", "MB", "decoded images kept in memory per folder; the rest are re-read", "1024");
    args.option("sample-every", "N", "write a sample grid every N iterations (0 = at the end only)", "500");
    args.option("plot-every", "N", "redraw loss_plot.png every N iterations (0 = at the end only)", "100");
    args.option("checkpoint-every", "N",
                "write the checkpoint every N iterations (0 = at the end only) [default: 10 % of the run, at most "
                "1000: min(1000, max(1, iterations / 10))]");
    args.option("checkpoint-minutes", "M", "also write it once M minutes passed since the last one (0 = off)", "10");
    args.option("stop-after", "N", "stop with a checkpoint once N iterations are done (split a run)");
    args.flag("resume", "continue the run in --out from its checkpoint");
    args.flag("force", "start a fresh run in a non-empty --out (its files are replaced as the new run writes them)");
    args.option("nproc-per-node", "N", "data-parallel: start N local worker processes (Gloo over loopback)");
    args.option("dist-timeout", "S", "data-parallel: seconds before a dead or hung rank fails the others", "60");
    args.flag("quiet", "no progress bar");
    args.epilog(kEpilog);
    args.parse(argc, argv);
    if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");
    dt::RendezvousEnv rendezvous;  // torchrun's variables; WORLD_SIZE unset or 1 = one process
    try {
      rendezvous = dt::rendezvousFromEnvironment();
    } catch (const Error& e) {
      args.fail(e.what());
    }

    auto positive = [&](const std::string& name) { return args.getInt(name, 1); };
    auto nonNegative = [&](const std::string& name) { return args.getInt(name, 0); };
    if (args.flagSet("resume") && args.flagSet("force"))
      args.fail("--resume and --force exclude each other (continue the run, or start over)");

    dt::TrainingRunOptions run;
    try {
      // Model and training settings: preset, then config file, then options.
      ModelConfig config = ModelConfig::fromPreset(args.get("preset"));
      dt::TrainingOptions training;
      if (args.has("config")) {
        auto parts = dt::splitTrainerConfig(readFile(args.get("config")));
        std::string model_text = parts.model_text;
        if (args.has("preset")) {
          for (const auto& kv : dt::parseKeyValues(model_text))
            if (kv.key == "preset" && kv.value != args.get("preset"))
              args.fail("--preset " + args.get("preset") + " contradicts 'preset = " + kv.value + "' in " +
                        args.get("config"));
          model_text = "preset = " + args.get("preset") + "\n" + model_text;
        }
        config = ModelConfig::fromText(model_text);
        training.applyText(parts.training_text);
      }
      if (args.has("iters")) {
        training.iterations = positive("iters");
      } else if (args.has("epochs")) {
        training.epochs = positive("epochs");
        training.iterations = 0;
      }
      for (const auto& setting : settingOptions())
        if (args.has(setting.name)) setting.apply(args, training);
      if (args.has("vgg-weights")) training.vgg_weights = args.get("vgg-weights");
      if (!args.flagSet("resume")) training.validate(config);  // a bad setting is a usage error, before any work

      run.config = config;
      run.training = training;
      run.resume = args.flagSet("resume");
      if (run.resume) {
        if (args.has("iters") || args.has("epochs")) run.resume_iterations = training.iterations;
        if (args.has("epochs")) args.fail("--epochs cannot be combined with --resume; give --iters");
        run.resume_vgg_weights = args.get("vgg-weights");
        std::vector<std::string> fixed{"preset", "config"};
        for (const auto& setting : settingOptions()) fixed.push_back(setting.name);
        for (const auto& name : fixed)
          if (args.has(name))
            args.fail("--" + name + " cannot change on --resume (the checkpoint holds the run's settings)");
      }
    } catch (const Error& e) {
      args.fail(e.what());
    }

    run.out_dir = args.get("out");
    refuseInputsInOutput(args, run.out_dir, args.flagSet("resume"));
    run.loader_threads = positive("loader-threads");
    run.image_cache_bytes = static_cast<size_t>(nonNegative("cache-mb")) << 20;
    run.sample_every = nonNegative("sample-every");
    run.plot_every = nonNegative("plot-every");
    if (args.has("checkpoint-every")) run.checkpoint_every = nonNegative("checkpoint-every");
    run.checkpoint_minutes = args.getDouble("checkpoint-minutes");
    if (!(run.checkpoint_minutes >= 0)) args.fail("option '--checkpoint-minutes' must be >= 0");
    run.force = args.flagSet("force");
    if (args.has("stop-after")) run.stop_after = positive("stop-after");
    int threads = cli::threadsOption(args);
    const int nproc = args.has("nproc-per-node") ? positive("nproc-per-node") : 1;
    if (nproc > 1 && rendezvous.distributed())
      args.fail("--nproc-per-node cannot be combined with WORLD_SIZE=" + std::to_string(rendezvous.world_size) +
                " (this process is already a worker)");
    const auto dist_timeout = std::chrono::seconds(positive("dist-timeout"));
    // Local workers share the cores: "every core" means this worker's share of them.
    if (threads == 0 && rendezvous.local_world_size > 1)
      threads = std::max(1, dt::resolveThreads(0) / rendezvous.local_world_size);

    try {
      run.rainy_files = cli::listImagesAndVideos(args.get("rainy"));
      run.clean_files = cli::listImagesAndVideos(args.get("clean"));
      const Device device = dt::resolveDevice(parseDevice(args.get("device")));
      run.device = dt::torchDevice(device);
      dt::applyThreads(dt::resolveThreads(threads));
      std::cerr << "derain-train: device " << toString(device) << ", " << at::get_num_threads() << " threads, "
                << run.rainy_files.size() << " rainy and " << run.clean_files.size() << " clean files\n";
    } catch (const Error& e) {
      args.fail(e.what());
    }

    if (nproc > 1) {  // the launcher: the same command line, minus this option, in each worker
      std::vector<std::string> worker_args;
      for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--nproc-per-node") ++i;
        else if (a.rfind("--nproc-per-node=", 0) != 0) worker_args.push_back(a);
      }
      return dt::runLocalWorkers(nproc, worker_args, [](const std::string& m) { std::cerr << "derain-train: " << m << "\n"; });
    }
    std::unique_ptr<dt::DataParallel> data_parallel;
    if (rendezvous.distributed()) {
      if (run.device.is_cuda()) run.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(rendezvous.local_rank));
      data_parallel = std::make_unique<dt::DataParallel>(rendezvous, run.device, dist_timeout);
      run.data_parallel = data_parallel.get();
      if (rendezvous.rank == 0)
        std::cerr << "derain-train: data-parallel, " << rendezvous.world_size << " ranks, effective batch "
                  << run.training.batch << " x " << rendezvous.world_size << "\n";
    }

    installSignalHandlers();
    run.stop_requested = [] { return g_signal != 0; };
    std::unique_ptr<cli::ProgressBar> bar;
    const bool quiet = args.flagSet("quiet");
    run.progress = [&](int64_t done, int64_t total, const dt::StepLosses& losses) {
      if (quiet) return;
      if (!bar) bar = std::make_unique<cli::ProgressBar>("train", total);
      bar->update(done, shortLosses(losses));
    };
    run.message = [&](const std::string& m) {
      if (rendezvous.rank == 0) std::cerr << m << "\n";  // data-parallel: rank 0 speaks for all
    };

    {
      const dt::TrainingRunResult result = [&] {
        try {
          return dt::runTraining(run);
        } catch (const std::exception& e) {
          if (bar) bar->finish();  // the error goes on its own line
          if (!data_parallel) throw;  // runMain prints it
          // Data-parallel: tell the other ranks why (through the store), and say which rank this is.
          const std::string what = cli::oneLineMessage(e);
          data_parallel->reportFailure(what);
          if (what.rfind("distributed training: rank", 0) == 0) throw;
          throw Error("rank " + std::to_string(rendezvous.rank) + ": " + what);
        } catch (...) {
          if (bar) bar->finish();
          throw;
        }
      }();
      if (bar) bar->finish();
      if (rendezvous.rank != 0) return result.completed || g_signal == 0 ? 0 : 128 + g_signal;  // rank 0 reports
      if (result.skipped_rainy + result.skipped_clean > 0)
        std::cerr << "skipped images: " << result.skipped_rainy << " rainy, " << result.skipped_clean << " clean\n";
      if (result.completed) {
        std::cerr << "done: " << result.iterations_done << " iterations; model written to " << result.model_path << "\n";
        return 0;
      }
      std::cerr << "stopped after " << result.iterations_done << " of " << result.total_iterations
                << " iterations; checkpoint " << result.checkpoint_path << " (continue with --resume)\n";
      if (g_signal != 0) return 128 + g_signal;
      return 0;
    }
  });
}
