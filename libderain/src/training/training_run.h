// A whole training run into an output folder: data scan, fresh start or resume, the iteration
// loop with its CSV log, sample grids, loss plots and checkpoints, and the final model export.
// derain-train is a thin command line over this.
//
// Output folder:
//   checkpoint.derain   latest checkpoint (written atomically), what --resume continues from
//   losses.csv          every loss term of every iteration
//   loss_plot.png       chart of losses.csv, refreshed every plot_every iterations and at the end
//   samples/iter_NNNNNNN.png  sample grid every sample_every iterations and at the end
//   training.conf       the run's model and training settings (a valid --config file)
//   model.derain        the inference model, written when the run completes
//   .derain-train.lock  held (flock) for the whole run: a second trainer on the folder fails at once
// Every file is replaced atomically (temporary file + rename); losses.csv is rewritten that way on
// start and appended to afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "derain/config.hpp"
#include "training/step_losses.h"
#include "training/training_options.h"

namespace derain::detail {

class DataParallel;  // training/distributed.h

constexpr int64_t kAutoCheckpointInterval = -1;
// The default checkpoint interval of a run of `iterations`: every 10 % of the run, at most 1000
// iterations apart: min(1000, max(1, iterations / 10)).
int64_t defaultCheckpointInterval(int64_t iterations);
// The lock file runTraining holds in its output folder.
constexpr const char* kTrainingLockFile = ".derain-train.lock";

struct TrainingRunOptions {
  std::vector<std::string> rainy_files, clean_files;
  std::string out_dir;
  ModelConfig config;         // fresh runs only: a resumed run takes both from its checkpoint
  TrainingOptions training;
  bool resume = false;
  bool force = false;              // fresh run into a folder that is not empty (replaces its files)
  int64_t resume_iterations = 0;   // > 0: on resume, change the run's total (the lr schedule follows)
  std::string resume_vgg_weights;  // non-empty: on resume, read the VGG16 weights from here instead
  c10::Device device = c10::kCPU;
  int loader_threads = 2;
  int prefetch = 4;                // batches loaded ahead
  size_t image_cache_bytes = size_t{1} << 30;  // decoded images kept in memory per domain
  int64_t sample_every = 500;      // 0 = only at the end
  int64_t plot_every = 100;        // 0 = only at the end
  // Iterations between checkpoints: 0 = only at the end / on interruption, kAutoCheckpointInterval =
  // defaultCheckpointInterval of the run's total.
  int64_t checkpoint_every = kAutoCheckpointInterval;
  double checkpoint_minutes = 10;  // also checkpoint once this much wall time passed since the last; 0 = off
  int64_t stop_after = 0;          // > 0: stop (with a checkpoint) once this many iterations are done
  std::function<bool()> stop_requested;              // polled after every iteration (e.g. a signal flag)
  std::function<void(const std::string&)> message;  // warnings and notes (default: stderr)
  std::function<void(int64_t done, int64_t total, const StepLosses&)> progress;
  // Data-parallel run (null: one process): this rank's group. The batch is per rank; rank 0 alone
  // writes the output folder; progress gets the losses averaged over the ranks (rank 0 only).
  DataParallel* data_parallel = nullptr;
};

struct TrainingRunResult {
  int64_t first_iteration = 0;     // where this invocation started (0, or the checkpoint's)
  int64_t iterations_done = 0;     // finished iterations of the run after this invocation
  int64_t total_iterations = 0;
  bool completed = false;          // all iterations done and model.derain written
  int skipped_rainy = 0, skipped_clean = 0;
  std::string checkpoint_path, model_path, log_path;
};

// Throws derain::Error (ModelFileError for checkpoint/VGG files) on bad input: no usable images,
// an output folder that is not empty (without resume or force; checked before anything is written),
// a folder another trainer holds locked, a missing checkpoint (with resume).
TrainingRunResult runTraining(const TrainingRunOptions& options);

}  // namespace derain::detail
