#include "training/training_run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include <torch/torch.h>

#include "derain/error.hpp"
#include "losses/vgg16_features.h"
#include "runtime.h"
#include "training/atomic_file.h"
#include "training/batch_plan.h"
#include "training/batch_prefetcher.h"
#include "training/checkpoint.h"
#include "training/distributed.h"
#include "training/image_domain.h"
#include "training/image_pairs.h"
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

std::string formatMinutes(double minutes) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", minutes);
  return text;
}

bool due(int64_t done, int64_t every) { return every > 0 && done % every == 0; }

// The folder's entries other than the lock file, for the "not empty" message (up to a few names).
std::vector<std::string> folderEntries(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != kTrainingLockFile) names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void refuseNonEmpty(const TrainingRunOptions& options) {
  const auto names = folderEntries(options.out_dir);
  if (names.empty()) return;
  std::string listed;
  for (size_t i = 0; i < names.size() && i < 4; ++i) listed += (i ? ", " : "") + names[i];
  if (names.size() > 4) listed += ", ...";
  throw Error("the output folder '" + options.out_dir + "' is not empty (" + listed +
              "); continue its run with --resume, start over in it with --force, or choose another folder");
}

// An exclusive flock on OUT/.derain-train.lock for the lifetime of the object; derain::Error at once
// if another process holds it.
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir) {
    const std::string path = (fs::path(dir) / kTrainingLockFile).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create the lock file '" + path + "': " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK)
        throw Error("another derain-train is using the output folder '" + dir + "' (it holds '" + path +
                    "'); wait for it to finish or choose another folder");
      throw Error("cannot lock '" + path + "': " + std::strerror(err));
    }
  }
  ~FolderLock() { ::close(fd_); }  // closing releases the lock
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Identifies the usable training images (count and FNV-1a hash of their paths and sizes): the
// batch plan depends on them, so a resume on other data cannot reproduce the original run.
// Pairs from disk count too (appended only when there are some, so other runs' fingerprints stay).
std::string dataFingerprint(const ImageDomain& rainy, const ImageDomain& clean, const ImagePairs* pairs) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto add = [&](const std::string& text) {
    for (unsigned char ch : text) hash = (hash ^ ch) * 0x100000001b3ULL;
  };
  for (const ImageDomain* d : {&rainy, &clean})
    for (size_t i = 0; i < d->size(); ++i)
      add(d->path(i) + "|" + std::to_string(d->imageSize(i).width) + "x" + std::to_string(d->imageSize(i).height) + "\n");
  for (size_t i = 0; pairs && i < pairs->size(); ++i)
    add(pairs->rainyPath(i) + "|" + pairs->cleanPath(i) + "|" + std::to_string(pairs->imageSize(i).width) + "x" +
        std::to_string(pairs->imageSize(i).height) + "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "rainy " + std::to_string(rainy.size()) + ", clean " + std::to_string(clean.size()) +
         (pairs ? ", pairs " + std::to_string(pairs->size()) : std::string()) + ", " + hex;
}
// Before anything is written: a fresh run never lands in a folder holding files (a finished run's
// model, another run's log), a resumed one needs its checkpoint. Takes the folder's lock (`lock`),
// held for the whole run.
void prepareOutputFolder(const TrainingRunOptions& options, const std::string& checkpoint_path,
                         std::optional<FolderLock>& lock) {
  const fs::path out(options.out_dir);
  if (options.resume) {
    if (!fs::exists(checkpoint_path)) throw Error("cannot resume: '" + checkpoint_path + "' does not exist");
  } else if (!options.force) {
    refuseNonEmpty(options);
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error("cannot create the output folder '" + options.out_dir + "': " + ec.message());
  lock.emplace(options.out_dir);
  // Checked again under the lock: another trainer may have started between the check and the lock.
  if (!options.resume && !options.force) refuseNonEmpty(options);
  fs::create_directories(out / "samples", ec);
  if (ec) throw Error("cannot create the output folder '" + (out / "samples").string() + "': " + ec.message());
}

// Data-parallel: rank 0 reads the checkpoint and broadcasts it (the others need no access to the folder).
std::unique_ptr<CheckpointInfo> readCheckpointOf(DataParallel* dp, const std::string& path) {
  return std::make_unique<CheckpointInfo>(dp ? dp->readCheckpoint(path) : readCheckpoint(path));
}

// A resumed run's settings: the checkpoint's, with the few a resume may change (total iterations,
// where the VGG16 weights are).
TrainingOptions resumedSettings(const TrainingRunOptions& options, const CheckpointInfo& checkpoint,
                                const std::function<void(const std::string&)>& message) {
  TrainingOptions training = checkpoint.options;
  if (options.resume_iterations > 0 && options.resume_iterations != training.iterations) {
    message("note: resuming with " + std::to_string(options.resume_iterations) + " total iterations instead of " +
            std::to_string(training.iterations) + "; the learning-rate schedule changes accordingly");
    training.iterations = options.resume_iterations;
  }
  if (!options.resume_vgg_weights.empty()) training.vgg_weights = options.resume_vgg_weights;
  return training;
}

VGG16Features perceptualFeatures(const TrainingOptions& training,
                                 const std::function<void(const std::string&)>& message) {
  if (training.vgg_weights.empty()) {
    message("perceptual loss: OFF (no VGG16 weights given; see --vgg-weights)");
    return nullptr;
  }
  VGG16Features vgg = loadVGG16Features(training.vgg_weights);
  message("perceptual loss: on, VGG16 features from '" + training.vgg_weights + "'");
  return vgg;
}

}  // namespace

int64_t defaultCheckpointInterval(int64_t iterations) {
  return std::min<int64_t>(1000, std::max<int64_t>(1, iterations / 10));
}

TrainingRunResult runTraining(const TrainingRunOptions& options) {
  auto message = options.message ? options.message : [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
  DataParallel* const dp = options.data_parallel;
  const bool writer = !dp || dp->rank() == 0;  // rank 0 alone touches the output folder
  const int world = dp ? dp->worldSize() : 1;
  const fs::path out(options.out_dir);
  TrainingRunResult result;
  result.checkpoint_path = (out / "checkpoint.derain").string();
  result.model_path = (out / "model.derain").string();
  result.log_path = (out / "losses.csv").string();

  std::optional<FolderLock> lock;
  if (writer) prepareOutputFolder(options, result.checkpoint_path, lock);

  // Settings: from the command line for a fresh run, from the checkpoint for a resumed one.
  std::unique_ptr<CheckpointInfo> checkpoint;
  if (options.resume) checkpoint = readCheckpointOf(dp, result.checkpoint_path);
  ModelConfig config = checkpoint ? checkpoint->config : options.config;
  TrainingOptions training = checkpoint ? resumedSettings(options, *checkpoint, message) : options.training;
  config.validate();
  training.validate(config);

  ImageDomain rainy("rainy", options.rainy_files, training.crop, options.loader_threads, message,
                    options.image_cache_bytes);
  ImageDomain clean("clean", options.clean_files, training.crop, options.loader_threads, message,
                    options.image_cache_bytes);
  std::optional<ImagePairs> pairs;  // the synthetic term's pairs from disk, when given
  if (training.weights.synthetic > 0 && !training.synthetic_pairs.empty()) {
    pairs.emplace(training.synthetic_pairs, training.crop, options.loader_threads, options.image_cache_bytes);
    message("synthetic pairs: " + std::to_string(pairs->size()) + " from '" + training.synthetic_pairs + "'");
  }
  const ImagePairs* const pairs_ptr = pairs ? &*pairs : nullptr;
  result.skipped_rainy = rainy.skipped();
  result.skipped_clean = clean.skipped();
  if (training.iterations == 0)
    training.iterations = training.epochs * iterationsPerEpoch(rainy.size(), clean.size(), training.batch * world);
  result.total_iterations = training.iterations;
  const std::vector<std::pair<std::string, std::string>> data_meta{{"data", dataFingerprint(rainy, clean, pairs_ptr)}};
  if (checkpoint) {
    const std::string* saved = checkpoint->file.findMeta("data");
    if (saved && *saved != data_meta[0].second)
      message("warning: the usable training images differ from the checkpoint's (" + *saved + " then, " +
              data_meta[0].second + " now); the run continues but cannot reproduce an uninterrupted one");
  }

  VGG16Features vgg = perceptualFeatures(training, message);

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
  if (writer)
    writeTextAtomically((out / "training.conf").string(), "# settings of this run (a valid derain-train --config file)\n" +
                                                         config.toText() + training.toText());
  const int64_t checkpoint_every = options.checkpoint_every == kAutoCheckpointInterval
                                       ? defaultCheckpointInterval(training.iterations)
                                       : options.checkpoint_every;
  message("checkpoint every " + std::to_string(checkpoint_every) + " iterations" +
          (options.checkpoint_minutes > 0 ? " and every " + formatMinutes(options.checkpoint_minutes) + " minutes" : ""));
  using Clock = std::chrono::steady_clock;
  auto last_checkpoint = Clock::now();
  auto checkpointNow = [&] {
    if (dp) dp->saveCheckpoint(trainer, result.checkpoint_path, data_meta);  // every rank, rank 0 writes
    else saveCheckpoint(trainer, result.checkpoint_path, data_meta);
    last_checkpoint = Clock::now();
  };

  std::optional<LossLog> log;
  if (writer) log.emplace(result.log_path, trainer.iteration());
  int64_t end = training.iterations;
  if (options.stop_after > 0) end = std::min(end, options.stop_after);
  bool stopped = false;
  if (trainer.iteration() < end) {
    std::optional<RainParamRanges> synthetic_rain;
    if (training.weights.synthetic > 0 && !pairs) synthetic_rain = training.synthetic_rain;
    BatchPrefetcher loader(rainy, clean, training.seed, training.batch, training.crop, trainer.iteration(), end,
                           options.loader_threads, options.prefetch, synthetic_rain, dp ? dp->rank() : 0, world,
                           pairs_ptr);
    while (trainer.iteration() < end) {
      TrainingBatch batch;
      try {
        batch = loader.next();
      } catch (...) {
        // A file that vanished or broke mid-run: keep the progress so far, then report.
        // (Data-parallel: the other ranks are mid-step; the last periodic checkpoint stays.)
        if (!dp && trainer.iteration() > result.first_iteration) checkpointNow();
        throw;
      }
      const double lr = learningRateAt(trainer.iteration(), training.iterations, training.lr, training.decay_start);
      const StepLosses losses = trainer.step(batch.rainy, batch.clean, lr, batch.synthetic, batch.synthetic_clean);
      const int64_t done = trainer.iteration();
      bool stop = options.stop_requested && options.stop_requested();
      const double minutes = std::chrono::duration<double>(Clock::now() - last_checkpoint).count() / 60.0;
      bool checkpoint_due = options.checkpoint_minutes > 0 && minutes >= options.checkpoint_minutes;
      StepLosses logged = losses;
      // Data-parallel: losses averaged; any rank's stop request or checkpoint clock counts for all.
      if (dp) stop = dp->finishStep(logged, stop, checkpoint_due);
      if (writer) {
        log->append(done, lr, logged);
        if (options.progress) options.progress(done, training.iterations, logged);
        if (due(done, options.sample_every)) writeSampleGrid(trainer.lastImages(), samplePath(options.out_dir, done));
        if (due(done, options.plot_every)) writeLossPlot(log->rows(), (out / "loss_plot.png").string());
      }
      if (due(done, checkpoint_every) || checkpoint_due) checkpointNow();
      if (done < end && stop) {
        stopped = true;
        break;
      }
    }
  }
  result.iterations_done = trainer.iteration();
  checkpointNow();
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
