#include "nets/channel_cat.h"

#include <torch/torch.h>

namespace derain::detail {

at::Tensor catChannels(c10::ArrayRef<at::Tensor> parts) {
  const auto& first = parts.front();
  if (first.dim() != 4 || !first.is_contiguous(at::MemoryFormat::ChannelsLast)) return torch::cat(parts, 1);
  for (const auto& p : parts)  // autograd: the differentiable way (copies into slices would work, slower)
    if (p.requires_grad()) return torch::cat(parts, 1).contiguous(at::MemoryFormat::ChannelsLast);
  int64_t channels = 0;
  for (const auto& p : parts) channels += p.size(1);
  auto out = torch::empty({first.size(0), channels, first.size(2), first.size(3)},
                          first.options().memory_format(at::MemoryFormat::ChannelsLast));
  int64_t offset = 0;
  for (const auto& p : parts) {
    out.narrow(1, offset, p.size(1)).copy_(p);
    offset += p.size(1);
  }
  return out;
}

}  // namespace derain::detail
