#include "training/training_run.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include <torch/torch.h>

#include "derain/error.hpp"
#include "losses/vgg16_features.h"
#include "runtime.h"
#include "training/batch_plan.h"
#include "training/batch_prefetcher.h"
#include "training/checkpoint.h"
#include "training/distributed.h"
#include "training/image_domain.h"
#include "training/loss_log.h"
#include "training/loss_plot.h"
#include "training/lr_schedule.h"
#include "training/sample_grid.h"
#include "training/trainer.h"

namespace fs = std::filesystem;

namespace derain::detail {

namespace {
std::string samplePath(const std::string& out_dir, int64_t iteration) {
  char name[64];
  std::snprintf(name, sizeof name, "iter_%07lld.png", static_cast<long long>(iteration));
  return (fs::path(out_dir) / "samples" / name).string();
}

bool due(int64_t done, int64_t every) { return every > 0 && done % every == 0; }

// Identifies the usable training images (count and FNV-1a hash of their paths and sizes): the
// batch plan depends on them, so a resume on other data cannot reproduce the original run.
std::string dataFingerprint(const ImageDomain& rainy, const ImageDomain& clean) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto add = [&](const std::string& text) {
    for (unsigned char ch : text) hash = (hash ^ ch) * 0x100000001b3ULL;
  };
  for (const ImageDomain* d : {&rainy, &clean})
    for (size_t i = 0; i < d->size(); ++i)
      add(d->path(i) + "|" + std::to_string(d->imageSize(i).width) + "x" + std::to_string(d->imageSize(i).height) + "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "rainy " + std::to_string(rainy.size()) + ", clean " + std::to_string(clean.size()) + ", " + hex;
}
}  // namespace

TrainingRunResult runTraining(const TrainingRunOptions& options) {
  auto message = options.message ? options.message : [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
  DataParallel* const dp = options.data_parallel;
  const bool writer = !dp || dp->rank() == 0;  // rank 0 alone writes the output folder
  const int world = dp ? dp->worldSize() : 1;
  const fs::path out(options.out_dir);
  std::error_code ec;
  if (writer) fs::create_directories(out / "samples", ec);
  if (ec) throw Error("cannot create the output folder '" + options.out_dir + "': " + ec.message());

  TrainingRunResult result;
  result.checkpoint_path = (out / "checkpoint.derain").string();
  result.model_path = (out / "model.derain").string();
  result.log_path = (out / "losses.csv").string();

  // Settings: from the command line for a fresh run, from the checkpoint for a resumed one.
  ModelConfig config = options.config;
  TrainingOptions training = options.training;
  std::unique_ptr<CheckpointInfo> checkpoint;
  if (options.resume) {
    if (dp)
      checkpoint = std::make_unique<CheckpointInfo>(dp->readCheckpoint(result.checkpoint_path));
    else if (!fs::exists(result.checkpoint_path))
      throw Error("cannot resume: '" + result.checkpoint_path + "' does not exist");
    else
      checkpoint = std::make_unique<CheckpointInfo>(readCheckpoint(result.checkpoint_path));
    config = checkpoint->config;
    training = checkpoint->options;
    if (options.resume_iterations > 0 && options.resume_iterations != training.iterations) {
      message("note: resuming with " + std::to_string(options.resume_iterations) + " total iterations instead of " +
              std::to_string(training.iterations) + "; the learning-rate schedule changes accordingly");
      training.iterations = options.resume_iterations;
    }
    if (!options.resume_vgg_weights.empty()) training.vgg_weights = options.resume_vgg_weights;
  } else if (writer && fs::exists(result.checkpoint_path)) {
    throw Error("'" + options.out_dir + "' already holds a training run (checkpoint.derain); resume it with "
                "--resume or choose another output folder");
  }
  config.validate();
  training.validate(config);

  ImageDomain rainy("rainy", options.rainy_files, training.crop, options.loader_threads, message,
                    options.image_cache_bytes);
  ImageDomain clean("clean", options.clean_files, training.crop, options.loader_threads, message,
                    options.image_cache_bytes);
  result.skipped_rainy = rainy.skipped();
  result.skipped_clean = clean.skipped();
  if (training.iterations == 0)
    training.iterations = training.epochs * iterationsPerEpoch(rainy.size(), clean.size(), training.batch * world);
  result.total_iterations = training.iterations;
  const std::vector<std::pair<std::string, std::string>> data_meta{{"data", dataFingerprint(rainy, clean)}};
  if (checkpoint) {
    const std::string* saved = checkpoint->file.findMeta("data");
    if (saved && *saved != data_meta[0].second)
      message("warning: the usable training images differ from the checkpoint's (" + *saved + " then, " +
              data_meta[0].second + " now); the run continues but cannot reproduce an uninterrupted one");
  }

  VGG16Features vgg = nullptr;
  if (training.vgg_weights.empty())
    message("perceptual loss: OFF (no VGG16 weights given; see --vgg-weights)");
  else {
    vgg = loadVGG16Features(training.vgg_weights);
    message("perceptual loss: on, VGG16 features from '" + training.vgg_weights + "'");
  }

  Trainer trainer(config, training, options.device, vgg);
  if (checkpoint) {
    restoreCheckpoint(trainer, *checkpoint, result.checkpoint_path);
    if (dp) dp->attach(trainer, checkpoint.get());
    checkpoint.reset();  // its tensors are in the trainer now
    message("resuming at iteration " + std::to_string(trainer.iteration()) + " of " +
            std::to_string(training.iterations));
  } else if (dp) {
    dp->attach(trainer, nullptr);
  }
  result.first_iteration = trainer.iteration();
  if (writer) {
    std::ofstream conf(out / "training.conf");
    conf << "# settings of this run (a valid derain-train --config file)\n" << config.toText() << training.toText();
  }

  std::optional<LossLog> log;
  if (writer) log.emplace(result.log_path, trainer.iteration());
  auto save = [&] {
    if (dp) dp->saveCheckpoint(trainer, result.checkpoint_path, data_meta);
    else saveCheckpoint(trainer, result.checkpoint_path, data_meta);
  };
  int64_t end = training.iterations;
  if (options.stop_after > 0) end = std::min(end, options.stop_after);
  bool stopped = false;
  if (trainer.iteration() < end) {
    std::optional<RainParamRanges> synthetic_rain;
    if (training.weights.synthetic > 0) synthetic_rain = training.synthetic_rain;
    BatchPrefetcher loader(rainy, clean, training.seed, training.batch, training.crop, trainer.iteration(), end,
                           options.loader_threads, options.prefetch, synthetic_rain, dp ? dp->rank() : 0, world);
    while (trainer.iteration() < end) {
      TrainingBatch batch;
      try {
        batch = loader.next();
      } catch (...) {
        // A file that vanished or broke mid-run: keep the progress so far, then report.
        // (Data-parallel: the other ranks are mid-step; the last periodic checkpoint stays.)
        if (!dp && trainer.iteration() > result.first_iteration) save();
        throw;
      }
      const double lr = learningRateAt(trainer.iteration(), training.iterations, training.lr, training.decay_start);
      const StepLosses losses = trainer.step(batch.rainy, batch.clean, lr, batch.synthetic);
      bool stop = options.stop_requested && options.stop_requested();
      StepLosses logged = losses;
      if (dp) stop = dp->finishStep(logged, stop);  // losses averaged; any rank's stop stops all
      const int64_t done = trainer.iteration();
      if (writer) {
        log->append(done, lr, logged);
        if (options.progress) options.progress(done, training.iterations, logged);
        if (due(done, options.sample_every)) writeSampleGrid(trainer.lastImages(), samplePath(options.out_dir, done));
        if (due(done, options.plot_every)) writeLossPlot(log->rows(), (out / "loss_plot.png").string());
      }
      if (due(done, options.checkpoint_every)) save();
      if (done < end && stop) {
        stopped = true;
        break;
      }
    }
  }
  result.iterations_done = trainer.iteration();
  save();
  if (writer && !log->rows().empty()) writeLossPlot(log->rows(), (out / "loss_plot.png").string());
  if (writer && trainer.lastImages().rainy.defined())
    writeSampleGrid(trainer.lastImages(), samplePath(options.out_dir, result.iterations_done));
  if (!stopped && result.iterations_done >= training.iterations) {
    if (writer) exportInferenceModel(trainer, result.model_path);
    result.completed = true;
  }
  return result;
}

}  // namespace derain::detail
