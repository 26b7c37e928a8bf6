// Data-parallel training on torch's c10d: rendezvous like torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), a TCPStore hosted by rank 0, a Gloo process group on CPU (NCCL on CUDA
// when this LibTorch has it), and the few collectives a DerainCycleGAN run needs:
//   - rank 0's networks, GMM and prior-generator state broadcast once (identical starts);
//   - gradients averaged before each optimiser step, G step and D step alike, bucket by bucket while
//     backward runs (gradient_averager.h, Trainer::setDataParallel);
//   - the GMM's EM statistics summed over the ranks (one mixture fitted on every rank's residuals);
//   - each iteration's losses averaged and the ranks' stop requests agreed (any rank's Ctrl-C stops
//     all at the same iteration);
//   - checkpoints: rank 0 reads the file and broadcasts it on --resume; on save, every rank's
//     history pools and pool stream are gathered into rank 0's file.
// A collective that fails or times out (--dist-timeout) is turned into a derain::Error naming the
// rank that died, failed or stopped answering.
//
// This header is torch-light on purpose (no c10d): the c10d types live in distributed.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace derain::detail {

class Trainer;
struct StepLosses;
struct CheckpointInfo;

struct RendezvousEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
  bool distributed() const { return world_size > 1; }
};

// Reads the torchrun variables through `getenv` (default: the process environment). WORLD_SIZE
// unset or 1 is a single process. Throws derain::Error (one line, naming the variable) for a value
// that is not a number, WORLD_SIZE < 1, RANK missing or >= WORLD_SIZE, LOCAL_RANK < 0, and a missing
// MASTER_ADDR or MASTER_PORT (or a port outside 1..65535) when WORLD_SIZE > 1.
RendezvousEnv rendezvousFromEnvironment(const std::function<const char*(const char*)>& getenv = {});

class DataParallel {
 public:
  // Joins the group: rank 0 hosts the TCPStore on master_addr:master_port; every rank connects and
  // builds the process group. Throws derain::Error if the ranks do not all join within `timeout`,
  // which also bounds every later collective. CUDA devices use NCCL (error if not compiled in).
  DataParallel(const RendezvousEnv& env, c10::Device device, std::chrono::milliseconds timeout);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const;
  int worldSize() const;

  // Collectives (every rank calls them in the same order). Tensors may live on any device.
  void broadcast(std::vector<at::Tensor>& tensors);  // rank 0's values, in place
  void sum(at::Tensor& tensor);                      // sum over the ranks, in place

  // Makes `trainer` data-parallel (its hooks), then gives every rank rank 0's networks (parameters
  // and buffers), GMM and attention-prior stream. `resumed`: the checkpoint the trainer was just
  // restored from; ranks > 0 take their own history pools from it when it holds them.
  void attach(Trainer& trainer, const CheckpointInfo* resumed);

  // Averages `losses` over the ranks in place; returns true when any rank's `stop` is true, and sets
  // `checkpoint_due` when any rank's is (ranks must checkpoint together: it is a collective).
  bool finishStep(StepLosses& losses, bool stop, bool& checkpoint_due);
  bool finishStep(StepLosses& losses, bool stop) {
    bool no_checkpoint = false;
    return finishStep(losses, stop, no_checkpoint);
  }

  // --resume: rank 0 reads `path` (error if missing) and broadcasts its bytes; every rank returns
  // the same checkpoint.
  CheckpointInfo readCheckpoint(const std::string& path);

  // Every rank calls it: their history pools and pool streams are gathered, and rank 0 alone writes
  // the checkpoint (with "rank<R>.pool_n.<i>", "rank<R>.pool_r.<i>", "rank<R>.pool_rng" for R > 0).
  void saveCheckpoint(Trainer& trainer, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& extra_meta);

  // Records in the store that this rank failed with `what`, so that the others' errors can say
  // why. Never throws.
  void reportFailure(const std::string& what) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace derain::detail
