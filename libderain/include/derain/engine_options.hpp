// How an inference engine runs: device, precision, threads, tiling. Plain values with their defaults
// and valid ranges defined here once; the CLIs, the GStreamer elements and the OpenCV wrapper build
// their options, property specs and checks from these. Torch-free (part of derain-core).
#pragma once

#include <cstdint>

#include <opencv2/core.hpp>

#include "derain/export.hpp"
#include "derain/types.hpp"

namespace derain {

// Valid ranges. Above kMaxThreads a typo (threads=1000) would only spawn idle threads for nothing.
constexpr int kMaxThreads = 256;
constexpr int kMinTileSize = 16;      // below this a tile holds mostly padding and overlap
constexpr int kMaxTileSize = 16384;
constexpr int kMaxTileOverlap = 4096;
constexpr int kDefaultTileOverlap = 32;

// Frames with more pixels than this are tiled automatically when tile_size is 0 (bounds memory).
constexpr int64_t kAutoTileMaxPixels = 1920LL * 1088LL;
// Tile side used by automatic tiling.
constexpr int kAutoTileSize = 768;

// EngineOptions::rain_strength: 1 = the model's own estimate of the rain; 0 = the input unchanged. The
// shipped model's Rain12 score already falls at 2 (models/README.md); past 4 a value is a typo.
constexpr float kDefaultRainStrength = 1.0f;
constexpr float kMaxRainStrength = 4.0f;

struct DERAIN_API EngineOptions {
  Device device = Device::Auto;
  Precision precision = Precision::FP32;
  int threads = 0;         // intra-op threads, [0, kMaxThreads]; 0 = every core of the machine
  int tile_size = 0;       // tile side in pixels, 0 (auto) or [kMinTileSize, kMaxTileSize]
  int tile_overlap = kDefaultTileOverlap;  // pixels shared by neighbouring tiles, blended linearly
  // Deraining: the layer removed from the input (input - G_N's output) is made grey, keeping its luma.
  // Rain is achromatic, and G_N's colour cast lives in that layer: measured with the shipped model,
  // the spread of the per-channel mean shifts on real-rain/ drops from 10.07 to 0.01 levels while the
  // Y channel stays as G_N made it (Rain12 32.49 -> 32.48 dB). false = G_N's output as it is.
  bool grey_rain = true;
  // Deraining with grey_rain: the grey removed layer is kept where rain can put it — rain only adds
  // light, and no more than a pixel stands above the darkest input pixel near it in its row (its
  // background) — so nothing is brightened and an over-subtracted streak leaves no dark trace.
  // Measured with the shipped model: Rain12 32.48 -> 32.77 dB; rain-free photos darkened 1.38 instead
  // of 1.65 levels. false = the grey layer unbounded. No effect without grey_rain.
  bool bounded_rain = true;
  // Deraining: how much of the layer the model removes (input - G_N's output, grey or not) is taken
  // out, before the bound: [0, kMaxRainStrength]. Above 1 it removes more of the rain the model found
  // (the shipped model thins heavy real rain instead of removing it); with the bound, more strength
  // cannot brighten a pixel nor dig below its background. The price is on clean detail: measured with
  // the shipped model at 1.4, Rain12 32.77 -> 33.06 dB but the held-out sets barely move, and rain-free
  // photos are darkened 1.88 instead of 1.38 levels (models/README.md, "Rain strength"), hence 1.
  float rain_strength = kDefaultRainStrength;

  // Throws derain::Error naming the first field out of range.
  void validate() const;
  bool operator==(const EngineOptions& other) const;
  bool operator!=(const EngineOptions& other) const { return !(*this == other); }
};

struct RainmakeOptions {
  float mask_noise = 0.0f;  // std-dev of Gaussian noise added to the attention mask (varies the rain)
  uint64_t seed = 0;        // seed of that noise
  // Rain200A-style rainmaking (the paper's and the reference code's procedure): a REAL rainy image
  // whose attention Att(reference) drives G_R instead of the clean input's own, near-zero mask, so
  // the streak layout comes from real rain; mask_noise then varies it. Any size (resized to the
  // input's, so its streaks scale with it), any type an input may have, in the same colour order.
  // Empty = the input's own mask.
  cv::Mat reference;
};

}  // namespace derain
