// Procedural rain: Rain100L-style synthetic streaks rendered onto an image, seedable and deterministic.
//
// Model (the O = B + S of the synthetic deraining sets, plus an optional veil):
//   1. sparse seeds: streak centres uniformly at random; their number follows `density`;
//   2. each seed becomes a motion-blurred drop: a segment of `length` pixels along `angle`, with a Gaussian
//      cross-section of full width `width` and soft (tapered) ends; brightness varies per streak to fake depth;
//   3. streaks add up in a grey layer S (0..1 per unit of `intensity`);
//   4. the veil lerps the background towards light grey: B' = (1 - haze) B + haze * 0.85;
//   5. additive blend with clipping, per channel: O = min(1, B' + S). (Additive, like the Photoshop-made
//      Rain100L/H and Rain800 sets; screen blending would soften streaks on bright backgrounds.)
// Same parameters and seed -> the same bytes (std::mt19937_64 with our own uniform mapping, no
// implementation-defined distributions). The streaks of a lower density are a subset of those of a higher
// density with the same seed, so rain only ever gets heavier as density grows.
// Torch-free; about 2 ms for a 640x360 8-bit frame at the defaults on one core (4-5 ms at density 0.15).
#pragma once

#include "derain/export.hpp"

#include <cstdint>
#include <random>
#include <string>

#include <opencv2/core.hpp>

namespace derain {

// Valid range of one rain parameter (inclusive). Defined once here: RainParams::validate, the
// dataset CLIs and the rainmake element's property specs all use these.
struct RainParamLimit {
  const char* name;
  double min, max;
};
constexpr RainParamLimit kRainDensity{"density", 0.0, 1.0};
constexpr RainParamLimit kRainAngle{"angle", -80.0, 80.0};
constexpr RainParamLimit kRainAngleJitter{"angle_jitter", 0.0, 45.0};
constexpr RainParamLimit kRainLength{"length", 1.0, 400.0};
constexpr RainParamLimit kRainWidth{"width", 0.5, 8.0};
constexpr RainParamLimit kRainIntensity{"intensity", 0.0, 1.0};
constexpr RainParamLimit kRainHaze{"haze", 0.0, 1.0};

struct DERAIN_API RainParams {
  double density = 0.05;      // fraction of the image area covered by streak cores, [0, 1]; 0 = no rain
                              // (Rain100L-like light rain ~0.02-0.06, heavy rain ~0.1-0.2)
  double angle = 0.0;         // degrees from vertical, [-80, 80]; positive tilts the top to the right
  double angle_jitter = 4.0;  // per-streak random deviation from `angle`, degrees, [0, 45]
  double length = 30.0;       // mean streak length in pixels, [1, 400] (per streak: 0.6x-1.4x)
  double width = 1.0;         // streak core width in pixels (full width at half maximum), [0.5, 8]
  double intensity = 0.5;     // peak brightness added by the brightest streak, 0..1 of full white, [0, 1]
                              // (per streak: 0.3x-1x)
  double haze = 0.0;          // veil strength, [0, 1]: 0 = none, 0.3 = misty heavy rain
  uint64_t seed = 0;          // random seed of seed positions and per-streak variation

  // Throws derain::Error naming the first field outside its range (or NaN).
  void validate() const;
};

// Renders the streak layer S alone: CV_32FC1 of `size`, 0 where there is no rain, the sum of the
// overlapping streaks elsewhere (unclipped; one streak peaks at most at `intensity`). Haze is not included.
DERAIN_API void renderRainLayer(cv::Size size, cv::Mat& layer, const RainParams& params);

// Rains on an image: dst = min(1, (1 - haze) src + haze * 0.85 + S), the same S on every colour channel.
// src: CV_8UC1 / CV_8UC3 / CV_8UC4 (0..255) or CV_32FC1 / CV_32FC3 / CV_32FC4 (0..1); a 4th channel
// (alpha) is copied unchanged. Channel order does not matter (rain is grey). dst gets src's size and type;
// src and dst may be the same Mat (in place). With density == 0 dst is a bit-identical copy of src, whatever
// the other parameters (no streaks, no veil). Throws derain::Error on an empty image, another type, or
// invalid parameters.
DERAIN_API void addRain(const cv::Mat& src, cv::Mat& dst, const RainParams& params);

// A closed interval a parameter is drawn from, uniformly. min == max fixes it.
struct ParamRange {
  double min = 0.0;
  double max = 0.0;
};

// "0.02" -> [0.02, 0.02]; "0.01:0.05" -> [0.01, 0.05] (spaces around the numbers allowed). Throws
// derain::Error for anything else. The order of the ends is not checked here (RainParamRanges::validate).
DERAIN_API ParamRange parseParamRange(const std::string& text);

// Ranges for dataset generation: sample() draws one RainParams. Defaults: light-to-moderate rain in the
// style of Rain100L (mostly near-vertical, thin, fairly bright streaks, no veil).
struct DERAIN_API RainParamRanges {
  ParamRange density{0.02, 0.08};
  ParamRange angle{-20.0, 20.0};
  ParamRange angle_jitter{2.0, 6.0};
  ParamRange length{15.0, 50.0};
  ParamRange width{0.7, 1.5};
  ParamRange intensity{0.3, 0.75};
  ParamRange haze{0.0, 0.0};

  // Draws every field uniformly from its range (in the order declared above), then the seed from rng().
  // Deterministic for a given rng state. Throws derain::Error if a range is reversed or its ends are
  // outside the field's valid range.
  RainParams sample(std::mt19937_64& rng) const;
  void validate() const;
};

// A double uniformly in [0, 1) from the top 53 bits of one draw: portable, unlike
// std::uniform_real_distribution whose algorithm the standard leaves to the implementation.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace derain
