// Rain-aware fusion of a frame with its aligned neighbours: where the current frame is brighter than the
// background seen through the neighbours by a thin streak-like excess, and the attention mask agrees, the
// pixel is taken from the neighbour that shows the background. Everything else keeps the current frame.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "derain/types.hpp"

namespace derain::detail {

struct FusionParams {
  // The background is the darkest sample that another sample confirms (within `agree_levels` of luma),
  // the current frame included: rain only brightens, so rainy samples are skipped, and a lone dark sample
  // (a misaligned edge) is not enough to pull a pixel down. When no two samples agree, the darkest.
  float agree_levels = 6.0f;
  // Luma excess over the background (8-bit levels) from which a pixel counts as rain: `excess_in_rain` where
  // the attention mask is 1, `excess_outside_rain` where it is 0, linear in between; full replacement is
  // reached `excess_ramp` levels above it.
  float excess_in_rain = 3.0f;
  float excess_outside_rain = 14.0f;
  float excess_ramp = 6.0f;
  // Only excess thinner than this (pixels, white top-hat) counts: streaks are thin; a moving object or a
  // misaligned edge that slipped through the motion checks is a blob and keeps the current frame.
  int streak_max_width = 7;
  // Attention values are scaled by this before use (the mask's own range is model-dependent).
  float attention_gain = 1.0f;
  // Excess that is not thin (blob-like, above this many levels) marks a region the motion did not explain
  // (occlusion, moving object): it keeps the current frame and is left to the generator.
  float blob_excess = 12.0f;
  // No replacement within this many pixels of such a blob (its thin fringes are not rain either).
  int blob_guard = 4;
  // Rain is grey: it brightens every channel alike. An excess whose channels differ by more than
  // `grey_spread` levels plus `grey_spread_share` of the excess is colour, not rain (a moving object).
  float grey_spread = 10.0f;
  float grey_spread_share = 0.35f;
};

struct FusionResult {
  double replaced = 0.0;       // fraction of pixels taken (partly or fully) from neighbours
  cv::Mat needs_generator;     // CV_8UC1, 255 where the neighbours could not vouch for the pixel: no
                               // trustworthy sample, or an unexplained blob around; G_N cleans those
};

// Per pixel of the current frame, which sample shows the background: the first step of the fusion, which
// does not need the attention mask (so it can run before the network pass that gives it).
struct BackgroundSamples {
  cv::Mat excess;       // CV_8UC1: the current frame's luma excess over the background sample, in levels
  cv::Mat source;       // CV_8UC1: 0 = the current frame itself, i + 1 = neighbour i
  cv::Mat unsupported;  // CV_8UC1: 255 where no neighbour has a trustworthy sample
  cv::Mat thin;         // CV_8UC1: the excess of streak-thin structures only (white top-hat)
  cv::Mat near_blob;    // CV_8UC1: 255 near wide excess (motion the alignment did not explain)
};

// current: CV_8UC3; warped[i]: CV_8UC3 neighbours aligned to it; valid[i]: CV_8UC1, 255 = usable sample.
BackgroundSamples findBackground(const cv::Mat& current, const std::vector<cv::Mat>& warped,
                                 const std::vector<cv::Mat>& valid, ColorOrder order, const FusionParams& params);

// `background` from findBackground on the same frames; attention: CV_32FC1 (U-ARSE mask of `current`),
// or empty for none (treated as 0). Writes `fused` (CV_8UC3).
FusionResult fuseWithNeighbours(const cv::Mat& current, const std::vector<cv::Mat>& warped,
                                const BackgroundSamples& background, const cv::Mat& attention,
                                const FusionParams& params, cv::Mat& fused);

}  // namespace derain::detail
