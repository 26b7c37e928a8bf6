#include "training/gradient_averager.h"

#include <torch/torch.h>

namespace derain::detail {

OverlappedAverager::OverlappedAverager(std::vector<at::Tensor> params, Comm comm, int64_t bucket_bytes)
    : params_(std::move(params)), comm_(std::move(comm)) {
  slots_.resize(params_.size());
  for (size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || buckets_.back().dtype != p.scalar_type() ||
        (buckets_.back().bytes > 0 && buckets_.back().bytes + bytes > bucket_bytes))
      buckets_.push_back(Bucket{p.scalar_type()});
    Bucket& b = buckets_.back();
    slots_[k] = Slot{buckets_.size() - 1, b.numel, p.numel()};
    b.params.push_back(k);
    b.numel += p.numel();
    b.bytes += bytes;
  }
  for (Bucket& b : buckets_) b.flat = comm_.to_comm(torch::empty({b.numel}, params_[b.params[0]].options()));
  for (size_t k = 0; k < params_.size(); ++k)
    hooks_.push_back(params_[k].register_hook([this, k](const at::Tensor& grad) { arrived(k, grad); }));
}

OverlappedAverager::~OverlappedAverager() {
  for (size_t k = 0; k < params_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void OverlappedAverager::arm() {
  armed_ = true;
  for (Bucket& b : buckets_) {
    b.arrived = 0;
    b.wait = nullptr;
  }
  for (Slot& s : slots_) s.arrived = false;
}

void OverlappedAverager::arrived(size_t k, const at::Tensor& grad) {
  Slot& s = slots_[k];
  if (!armed_ || s.arrived) return;
  torch::NoGradGuard no_grad;
  Bucket& b = buckets_[s.bucket];
  b.flat.narrow(0, s.offset, s.numel).copy_(grad.reshape({-1}));
  s.arrived = true;
  if (++b.arrived == b.params.size()) start(b);
}

void OverlappedAverager::start(Bucket& b) { b.wait = comm_.start(b.flat); }

void OverlappedAverager::finish() {
  if (!armed_) return;
  armed_ = false;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    if (b.wait) continue;
    for (size_t k : b.params)  // no gradient this pass: zeros, as average() sees an untouched grad
      if (!slots_[k].arrived) b.flat.narrow(0, slots_[k].offset, slots_[k].numel).zero_();
    start(b);
  }
  for (Bucket& b : buckets_) b.wait();
  for (Bucket& b : buckets_) {
    b.flat.div_(static_cast<double>(comm_.world_size));
    for (size_t k : b.params) {
      at::Tensor& p = params_[k];
      const at::Tensor mean = b.flat.narrow(0, slots_[k].offset, slots_[k].numel).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.to(p.device()).clone();
    }
  }
}

}  // namespace derain::detail
