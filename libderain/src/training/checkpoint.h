// Training checkpoints and the exported inference model.
//
// A checkpoint is a libderain container of kind Checkpoint holding everything the rest of a run
// depends on, so that a resumed run reproduces an uninterrupted one bit for bit:
//   meta    "config" (ModelConfig text), "training" (TrainingOptions text), "iteration",
//           "pool_rng" (std::mt19937_64 state as text), "gmm.initialised" (0/1), plus the caller's
//           extra entries (the training run adds "data", a fingerprint of the usable image files)
//   tensors every parameter of U-ARSE, G_N, G_R, D_N, D_R under their model names ("att.", ...);
//           "opt_g.<param>.exp_avg|exp_avg_sq|step", the same under "opt_d." (Adam states);
//           "pool_n.<i>", "pool_r.<i>" (history pools); "gmm.weights", "gmm.variances";
//           "prior_rng" (CPU generator state of the attention prior)
// The batch plan needs no state: it is a pure function of (seed, iteration).
// derain::Engine loads a checkpoint like a model file (it reads "config" and the inference tensors).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "derain/config.hpp"
#include "model_file.h"
#include "training/trainer.h"
#include "training/training_options.h"

namespace derain::detail {

// Writes `trainer`'s full state to `path` atomically (temp file + rename), with `extra_meta` entries
// and `extra_tensors` (data-parallel runs: the other ranks' history pools).
void saveCheckpoint(Trainer& trainer, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& extra_meta = {},
                    const std::vector<std::pair<std::string, at::Tensor>>& extra_tensors = {});

// What a checkpoint says about its run, to build the Trainer before restoring it.
struct CheckpointInfo {
  ModelConfig config;
  TrainingOptions options;
  int64_t iteration = 0;
  ContainerFile file;
};
// Throws ModelFileError naming the file if it is not a readable checkpoint.
CheckpointInfo readCheckpoint(const std::string& path);

// Restores every piece of state of `info` into a Trainer built with info.config and info.options.
// Throws ModelFileError naming `path` for anything missing or inconsistent.
void restoreCheckpoint(Trainer& trainer, const CheckpointInfo& info, const std::string& path);

// Writes the inference model file (kind Model, meta "config", U-ARSE / G_N / G_R tensors): the file
// derain::Engine loads and Engine::save writes.
void exportInferenceModel(Trainer& trainer, const std::string& path);

}  // namespace derain::detail
