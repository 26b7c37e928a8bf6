#include "training/distributed.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

// Debian's libtorch-dev ships ProcessGroupGloo.hpp but not the gloo headers it includes (libgloo0
// has no -dev package); gloo_decls/ declares the few gloo names the header mentions. This file
// never touches a gloo object itself, only the c10d API, whose layout does not depend on them.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(DERAIN_HAVE_CUDA) && defined(DERAIN_HAVE_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include "derain/error.hpp"
#include "training/checkpoint.h"
#include "training/gradient_averager.h"
#include "training/step_losses.h"
#include "training/trainer.h"

namespace fs = std::filesystem;

namespace derain::detail {

// --- rendezvous variables -------------------------------------------------------------------------

namespace {
int parseNonNegative(const char* name, const char* text) {
  const std::string s(text);
  try {
    size_t used = 0;
    const long v = std::stol(s, &used);
    if (used == s.size() && v >= 0 && v <= 1000000) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw Error(std::string(name) + " must be a non-negative integer, got '" + s + "'");
}
}  // namespace

RendezvousEnv rendezvousFromEnvironment(const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> const char* {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v && *v ? v : nullptr;
  };
  RendezvousEnv env;
  if (const char* w = get("WORLD_SIZE")) {
    env.world_size = parseNonNegative("WORLD_SIZE", w);
    if (env.world_size < 1) throw Error("WORLD_SIZE must be >= 1, got " + std::string(w));
  }
  if (const char* r = get("RANK")) env.rank = parseNonNegative("RANK", r);
  else if (env.world_size > 1)
    throw Error("RANK is not set (WORLD_SIZE=" + std::to_string(env.world_size) + " needs RANK in 0.." +
                std::to_string(env.world_size - 1) + ")");
  if (env.rank >= env.world_size)
    throw Error("RANK=" + std::to_string(env.rank) + " is out of range for WORLD_SIZE=" +
                std::to_string(env.world_size) + " (0.." + std::to_string(env.world_size - 1) + ")");
  env.local_rank = env.rank;
  if (const char* l = get("LOCAL_RANK")) env.local_rank = parseNonNegative("LOCAL_RANK", l);
  env.local_world_size = env.world_size;
  if (const char* l = get("LOCAL_WORLD_SIZE")) env.local_world_size = std::max(1, parseNonNegative("LOCAL_WORLD_SIZE", l));
  if (!env.distributed()) return env;
  const char* addr = get("MASTER_ADDR");
  if (!addr) throw Error("MASTER_ADDR is not set (WORLD_SIZE=" + std::to_string(env.world_size) +
                         " needs the address of rank 0's rendezvous store)");
  env.master_addr = addr;
  const char* port = get("MASTER_PORT");
  if (!port) throw Error("MASTER_PORT is not set (WORLD_SIZE=" + std::to_string(env.world_size) +
                         " needs the port of rank 0's rendezvous store)");
  env.master_port = parseNonNegative("MASTER_PORT", port);
  if (env.master_port < 1 || env.master_port > 65535)
    throw Error("MASTER_PORT must be 1..65535, got " + std::string(port));
  return env;
}

// --- the process group ----------------------------------------------------------------------------

namespace {
constexpr int64_t kBucketBytes = int64_t{64} << 20;  // broadcasts are flattened into buckets of ~64 MB
constexpr size_t kRngTextBytes = 16384;             // mt19937_64 state as text, zero-padded
const std::string kFailedKey = "derain/failed/";
const std::string kAliveKey = "derain/alive/";

std::string c10Message(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// One line: c10d messages can span several.
std::string oneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 400) s = s.substr(0, 400) + "...";
  return s;
}

at::Tensor textTensor(const std::string& text) {
  if (text.size() >= kRngTextBytes) throw Error("distributed training: random-stream state too long to gather");
  at::Tensor t = torch::zeros({static_cast<int64_t>(kRngTextBytes)}, torch::kUInt8);
  std::copy(text.begin(), text.end(), t.data_ptr<uint8_t>());
  return t;
}

std::string tensorText(const at::Tensor& t) {
  const at::Tensor c = t.cpu().contiguous();
  const char* p = reinterpret_cast<const char*>(c.data_ptr<uint8_t>());
  return std::string(p, strnlen(p, static_cast<size_t>(c.numel())));
}
}  // namespace

struct DataParallel::Impl {
  RendezvousEnv env;
  c10::Device device;
  std::chrono::milliseconds timeout;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  bool comm_on_device = false;  // NCCL: collectives on CUDA tensors

  Impl(const RendezvousEnv& e, c10::Device d, std::chrono::milliseconds t) : env(e), device(d), timeout(t) {}

  // What went wrong in a collective, naming the rank(s) responsible: a rank that reported a
  // failure, else the ranks that do not answer a roll call through the store within a short window.
  std::string diagnose(const std::string& operation, const std::string& cause) {
    const std::string prefix = "distributed training: rank " + std::to_string(env.rank) + " of " +
                               std::to_string(env.world_size) + ": " + operation + " failed";
    std::vector<int> silent;
    std::string failed;
    try {
      store->set(kAliveKey + std::to_string(env.rank), std::vector<uint8_t>{'1'});
      const auto window = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
      const auto deadline = std::chrono::steady_clock::now() + window;
      for (int r = 0; r < env.world_size; ++r) {
        if (r == env.rank) continue;
        const std::string fkey = kFailedKey + std::to_string(r);
        bool answered = false;
        while (true) {
          if (store->check({fkey})) {
            const auto v = store->get(fkey);
            failed += (failed.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " failed: " +
                      std::string(v.begin(), v.end());
            answered = true;
            break;
          }
          if (store->check({kAliveKey + std::to_string(r)})) {
            answered = true;
            break;
          }
          if (std::chrono::steady_clock::now() >= deadline) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!answered) silent.push_back(r);
      }
    } catch (const std::exception&) {
      // The store lives in rank 0's process: it is gone (or hung) with it.
      if (env.rank != 0)
        return prefix + ": rank 0 (which hosts the rendezvous store) died or stopped responding (" +
               oneLine(cause) + ")";
    }
    if (!failed.empty()) return prefix + ": " + failed;
    if (!silent.empty()) {
      std::string list;
      for (int r : silent) list += (list.empty() ? "" : ", ") + std::to_string(r);
      return prefix + ": rank" + (silent.size() > 1 ? "s " : " ") + list +
             (silent.size() > 1 ? " are" : " is") + " dead or hung (no answer to a roll call through the store within " +
             std::to_string(std::min<int64_t>(timeout.count(), 5000) / 1000) + " s) (" + oneLine(cause) + ")";
    }
    return prefix + " (" + oneLine(cause) + ")";
  }

  template <class F>
  void guarded(const char* operation, F&& f) {
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(diagnose(operation, c10Message(e)));
    }
  }

  at::Tensor toComm(const at::Tensor& t) const { return comm_on_device ? t.to(device) : t.cpu(); }

  void allreduceSum(at::Tensor& flat, const char* operation) {
    guarded(operation, [&] {
      std::vector<at::Tensor> v{flat};
      group->allreduce(v)->wait();
    });
  }

  void broadcastFlat(at::Tensor& flat, const char* operation) {
    guarded(operation, [&] {
      std::vector<at::Tensor> v{flat};
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      group->broadcast(v, o)->wait();
    });
  }

  // Flattens same-dtype runs of `tensors` into buckets of about kBucketBytes, runs `op` on each
  // bucket and copies the results back.
  template <class Op>
  void bucketed(std::vector<at::Tensor>& tensors, Op&& op) {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    while (i < tensors.size()) {
      std::vector<at::Tensor> parts;
      int64_t bytes = 0;
      size_t j = i;
      while (j < tensors.size() && tensors[j].scalar_type() == tensors[i].scalar_type() &&
             (parts.empty() || bytes + static_cast<int64_t>(tensors[j].nbytes()) <= kBucketBytes)) {
        parts.push_back(toComm(tensors[j]).reshape({-1}));
        bytes += static_cast<int64_t>(tensors[j].nbytes());
        ++j;
      }
      at::Tensor flat = torch::cat(parts).contiguous();
      op(flat);
      int64_t offset = 0;
      for (size_t k = i; k < j; ++k) {
        const int64_t n = tensors[k].numel();
        tensors[k].copy_(flat.narrow(0, offset, n).view(tensors[k].sizes()));
        offset += n;
      }
      i = j;
    }
  }

  // Every rank's copy of `local` (same shape everywhere), in rank order.
  std::vector<at::Tensor> allgather(const at::Tensor& local, const char* operation) {
    std::vector<std::vector<at::Tensor>> outputs(1);
    std::vector<at::Tensor> input{toComm(local).contiguous()};
    for (int r = 0; r < env.world_size; ++r) outputs[0].push_back(torch::empty_like(input[0]));
    guarded(operation, [&] { group->allgather(outputs, input)->wait(); });
    return outputs[0];
  }
};

DataParallel::DataParallel(const RendezvousEnv& env, c10::Device device, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(env, device, timeout)) {
  if (!env.distributed()) throw Error("distributed training needs WORLD_SIZE > 1");
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    throw Error("distributed training: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                " could not rendezvous at " + where + " within " + std::to_string(timeout.count() / 1000) +
                " s (" + oneLine(c10Message(e)) + ")");
  }
  try {
    if (device.is_cuda()) {
#if defined(DERAIN_HAVE_CUDA) && defined(DERAIN_HAVE_NCCL)
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env.rank, env.world_size, options);
      impl_->comm_on_device = true;
#else
      throw Error("distributed training on CUDA needs NCCL, and this build's LibTorch has no NCCL support "
                  "(use --device cpu to train over Gloo)");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // The address this rank's peers reach it at: loopback for a single machine, else this host's
      // name (GLOO_SOCKET_IFNAME picks an interface, as in PyTorch).
      if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      options->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, options);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("distributed training: rank " + std::to_string(env.rank) + " could not join the process group at " +
                where + " (" + oneLine(c10Message(e)) + ")");
  }
}

DataParallel::~DataParallel() = default;

int DataParallel::rank() const { return impl_->env.rank; }
int DataParallel::worldSize() const { return impl_->env.world_size; }

void DataParallel::broadcast(std::vector<at::Tensor>& tensors) {
  impl_->bucketed(tensors, [&](at::Tensor& flat) { impl_->broadcastFlat(flat, "the broadcast from rank 0"); });
}

void DataParallel::sum(at::Tensor& tensor) {
  at::Tensor t = impl_->toComm(tensor).contiguous();
  impl_->allreduceSum(t, "the GMM statistics all-reduce");
  tensor.copy_(t);
}

void DataParallel::attach(Trainer& trainer, const CheckpointInfo* resumed) {
  DataParallelHooks hooks;
  hooks.rank = rank();
  hooks.world_size = worldSize();
  hooks.sum = [this](at::Tensor& t) { sum(t); };
  hooks.averager = [this](std::vector<at::Tensor> params) {
    Impl* impl = impl_.get();
    OverlappedAverager::Comm comm;
    comm.start = [impl](at::Tensor& flat) -> std::function<void()> {
      c10::intrusive_ptr<c10d::Work> work;
      impl->guarded("the gradient all-reduce", [&] {
        std::vector<at::Tensor> v{flat};
        work = impl->group->allreduce(v);
      });
      return [impl, work] { impl->guarded("the gradient all-reduce", [&] { work->wait(); }); };
    };
    comm.to_comm = [impl](const at::Tensor& t) { return impl->toComm(t); };
    comm.world_size = impl->env.world_size;
    return std::make_unique<OverlappedAverager>(std::move(params), std::move(comm));
  };
  trainer.setDataParallel(std::move(hooks));

  // Identical starting points: rank 0's networks (parameters and buffers), GMM and prior stream.
  std::vector<at::Tensor> state;
  for (auto& p : trainer.model()->parameters()) state.push_back(p);
  for (auto& b : trainer.model()->buffers()) state.push_back(b);
  broadcast(state);
  at::Tensor flags = torch::tensor({trainer.gmm().initialised() ? 1.0 : 0.0}, torch::kFloat64);
  std::vector<at::Tensor> f{flags};
  broadcast(f);
  if (flags.item<double>() > 0) {
    at::Tensor w = trainer.gmm().initialised() ? trainer.gmm().weights().clone()
                                               : torch::zeros({trainer.gmm().components()}, torch::kFloat64);
    at::Tensor v = trainer.gmm().initialised() ? trainer.gmm().variances().clone() : torch::ones_like(w);
    std::vector<at::Tensor> g{w, v};
    broadcast(g);
    trainer.gmm().setState(w, v);
  }
  at::Tensor prior = trainer.priorGenerator().get_state().clone();
  std::vector<at::Tensor> pr{prior};
  broadcast(pr);
  trainer.priorGenerator().set_state(prior);

  // Ranks > 0 resume their own history pools when the checkpoint has them (else they keep rank 0's
  // copy, from restoreCheckpoint, with their own pool stream from setDataParallel).
  if (resumed && rank() > 0) {
    const std::string base = "rank" + std::to_string(rank()) + ".";
    if (const std::string* rng = resumed->file.findMeta(base + "pool_rng")) {
      auto images = [&](const std::string& prefix) {
        std::vector<at::Tensor> out;
        for (size_t i = 0;; ++i) {
          const at::Tensor* t = resumed->file.findTensor(base + prefix + std::to_string(i));
          if (!t) break;
          out.push_back(t->to(trainer.device()).clone());
        }
        return out;
      };
      trainer.poolClean().setImages(images("pool_n."));
      trainer.poolRainy().setImages(images("pool_r."));
      std::istringstream in(*rng);
      in >> trainer.poolRng();
      if (in.fail()) throw Error("checkpoint: malformed '" + base + "pool_rng'");
    }
  }
}

bool DataParallel::finishStep(StepLosses& losses, bool stop, bool& checkpoint_due) {
  double* fields[StepLosses::kCount] = {&losses.adversarial, &losses.attention_r, &losses.attention_n,
                                        &losses.cycle,       &losses.perceptual,  &losses.gmm,
                                        &losses.reconstruction, &losses.identity, &losses.synthetic,
                                        &losses.generator,   &losses.d_n,         &losses.d_r};
  at::Tensor t = torch::zeros({static_cast<int64_t>(StepLosses::kCount) + 2}, torch::kFloat64);
  auto* p = t.data_ptr<double>();
  for (size_t i = 0; i < StepLosses::kCount; ++i) p[i] = *fields[i];
  p[StepLosses::kCount] = stop ? 1.0 : 0.0;
  p[StepLosses::kCount + 1] = checkpoint_due ? 1.0 : 0.0;
  at::Tensor c = impl_->toComm(t);
  impl_->allreduceSum(c, "the loss all-reduce");
  t = c.cpu();
  p = t.data_ptr<double>();
  for (size_t i = 0; i < StepLosses::kCount; ++i) *fields[i] = p[i] / worldSize();
  checkpoint_due = p[StepLosses::kCount + 1] > 0;
  return p[StepLosses::kCount] > 0;
}

CheckpointInfo DataParallel::readCheckpoint(const std::string& path) {
  std::string bytes, error;
  if (rank() == 0) {
    std::ifstream in(path, std::ios::binary);
    if (!fs::exists(path)) error = "cannot resume: '" + path + "' does not exist";
    else if (!in) error = "cannot resume: '" + path + "' cannot be read";
    else {
      std::stringstream s;
      s << in.rdbuf();
      bytes = s.str();
    }
  }
  // Sizes first, then the bytes (the error text travels in the same buffer).
  at::Tensor sizes = torch::tensor({static_cast<int64_t>(bytes.size()), static_cast<int64_t>(error.size())}, torch::kInt64);
  std::vector<at::Tensor> s{sizes};
  broadcast(s);
  const int64_t n = sizes[0].item<int64_t>(), e = sizes[1].item<int64_t>();
  at::Tensor data = torch::zeros({n + e}, torch::kUInt8);
  if (rank() == 0) {
    std::copy(bytes.begin(), bytes.end(), data.data_ptr<uint8_t>());
    std::copy(error.begin(), error.end(), data.data_ptr<uint8_t>() + n);
  }
  if (n + e > 0) {
    std::vector<at::Tensor> d{data};
    broadcast(d);
  }
  const char* raw = reinterpret_cast<const char*>(data.data_ptr<uint8_t>());
  if (e > 0) throw Error(std::string(raw + n, static_cast<size_t>(e)));
  if (rank() == 0) return detail::readCheckpoint(path);
  // The container reader takes a path: a private temp copy, removed at once.
  const fs::path copy = fs::temp_directory_path() /
                        ("derain-resume-rank" + std::to_string(rank()) + "-" + std::to_string(::getpid()) + ".derain");
  {
    std::ofstream out(copy, std::ios::binary);
    out.write(raw, n);
    if (!out) throw Error("cannot write the temporary copy '" + copy.string() + "' of rank 0's checkpoint");
  }
  try {
    CheckpointInfo info = detail::readCheckpoint(copy.string());
    fs::remove(copy);
    return info;
  } catch (...) {
    std::error_code ec;
    fs::remove(copy, ec);
    throw;
  }
}

void DataParallel::saveCheckpoint(Trainer& trainer, const std::string& path,
                                  const std::vector<std::pair<std::string, std::string>>& extra_meta) {
  std::vector<std::pair<std::string, std::string>> meta = extra_meta;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  meta.emplace_back("world_size", std::to_string(worldSize()));
  // Every rank holds as many pool images as the others (they see batches of the same size).
  auto gatherPool = [&](const HistoryPool& pool, const std::string& prefix) {
    if (pool.images().empty()) return;
    const auto all = impl_->allgather(torch::cat(pool.images(), 0), "gathering the history pools");
    for (int r = 1; r < worldSize(); ++r)
      for (int64_t i = 0; i < all[r].size(0); ++i)
        tensors.emplace_back("rank" + std::to_string(r) + "." + prefix + std::to_string(i),
                             all[r].narrow(0, i, 1).cpu().clone());
  };
  gatherPool(trainer.poolClean(), "pool_n.");
  gatherPool(trainer.poolRainy(), "pool_r.");
  std::ostringstream rng;
  rng << trainer.poolRng();
  const auto rngs = impl_->allgather(textTensor(rng.str()), "gathering the pool streams");
  for (int r = 1; r < worldSize(); ++r) meta.emplace_back("rank" + std::to_string(r) + ".pool_rng", tensorText(rngs[r]));
  if (rank() == 0) detail::saveCheckpoint(trainer, path, meta, tensors);
}

void DataParallel::reportFailure(const std::string& what) noexcept {
  try {
    const std::string line = oneLine(what);
    impl_->store->set(kFailedKey + std::to_string(rank()), std::vector<uint8_t>(line.begin(), line.end()));
  } catch (...) {
  }
}

}  // namespace derain::detail
