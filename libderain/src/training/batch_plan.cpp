#include "training/batch_plan.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <type_traits>

namespace derain::detail {

namespace {
// Stream tags keep the random streams of different purposes independent.
constexpr uint64_t kShuffleTag = 0x53485546464c45ULL;
constexpr uint64_t kSampleTag = 0x53414d504c45ULL;
constexpr uint64_t kRainTag = 0x5241494eULL;
constexpr uint64_t kPairTag = 0x50414952ULL;

// SplitMix64 finaliser: turns (seed, counter) pairs into well-spread seeds.
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9E3779B97F4A7C15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform integer in [0, n) from raw 64-bit draws (std distributions differ between libraries).
size_t below(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

std::vector<size_t> epochOrder(uint64_t seed, int64_t epoch, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(mix(mix(seed, kShuffleTag), static_cast<uint64_t>(epoch)));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[below(rng, i)]);  // Fisher-Yates
  return order;
}

CropSpec cropOf(size_t index, cv::Size size, int crop, std::mt19937_64& rng) {
  CropSpec c;
  c.index = index;
  c.x = static_cast<int>(below(rng, static_cast<size_t>(size.width - crop + 1)));
  c.y = static_cast<int>(below(rng, static_cast<size_t>(size.height - crop + 1)));
  c.flip = (rng() >> 63) != 0;
  return c;
}
}  // namespace

int64_t iterationsPerEpoch(size_t rainy_images, size_t clean_images, int batch) {
  const auto larger = static_cast<int64_t>(std::max(rainy_images, clean_images));
  return (larger + batch - 1) / batch;
}

BatchPlan planBatch(uint64_t seed, int64_t iteration, int batch, int crop, const ImageDomain& rainy,
                    const ImageDomain& clean, const RainParamRanges* synthetic_rain, const ImagePairs* pairs) {
  const bool rainy_leads = rainy.size() >= clean.size();
  const ImageDomain& lead = rainy_leads ? rainy : clean;
  const ImageDomain& other = rainy_leads ? clean : rainy;
  const auto epoch_len = static_cast<int64_t>(lead.size());

  std::mt19937_64 rng(mix(mix(seed, kSampleTag), static_cast<uint64_t>(iteration)));
  BatchPlan plan;
  int64_t cached_epoch = -1;
  std::vector<size_t> order;
  for (int b = 0; b < batch; ++b) {
    // Sample numbers run on across iterations, so epochs need not be a multiple of the batch.
    const int64_t sample = iteration * batch + b;
    const int64_t epoch = sample / epoch_len;
    if (epoch != cached_epoch) {
      order = epochOrder(seed, epoch, lead.size());
      cached_epoch = epoch;
    }
    const size_t lead_index = order[static_cast<size_t>(sample % epoch_len)];
    CropSpec lead_crop = cropOf(lead_index, lead.imageSize(lead_index), crop, rng);
    const size_t other_index = below(rng, other.size());
    CropSpec other_crop = cropOf(other_index, other.imageSize(other_index), crop, rng);
    (rainy_leads ? plan.rainy : plan.clean).push_back(lead_crop);
    (rainy_leads ? plan.clean : plan.rainy).push_back(other_crop);
  }
  if (synthetic_rain) {
    std::mt19937_64 rain_rng(mix(mix(seed, kRainTag), static_cast<uint64_t>(iteration)));
    for (int b = 0; b < batch; ++b) plan.synthetic_rain.push_back(synthetic_rain->sample(rain_rng));
  }
  if (pairs) {
    std::mt19937_64 pair_rng(mix(mix(seed, kPairTag), static_cast<uint64_t>(iteration)));
    for (int b = 0; b < batch; ++b) {
      const size_t index = below(pair_rng, pairs->size());
      plan.pairs.push_back(cropOf(index, pairs->imageSize(index), crop, pair_rng));
    }
  }
  return plan;
}

BatchPlan planShard(uint64_t seed, int64_t iteration, int batch, int rank, int world_size, int crop,
                    const ImageDomain& rainy, const ImageDomain& clean, const RainParamRanges* synthetic_rain,
                    const ImagePairs* pairs) {
  if (world_size <= 1) return planBatch(seed, iteration, batch, crop, rainy, clean, synthetic_rain, pairs);
  const BatchPlan global = planBatch(seed, iteration, batch * world_size, crop, rainy, clean, synthetic_rain, pairs);
  const auto first = static_cast<size_t>(rank) * static_cast<size_t>(batch);
  auto slice = [&](const auto& all) {
    using V = std::decay_t<decltype(all)>;
    return all.empty() ? V{} : V(all.begin() + first, all.begin() + first + batch);
  };
  BatchPlan plan;
  plan.rainy = slice(global.rainy);
  plan.clean = slice(global.clean);
  plan.synthetic_rain = slice(global.synthetic_rain);
  plan.pairs = slice(global.pairs);
  return plan;
}

}  // namespace derain::detail
