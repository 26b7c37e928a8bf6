// Rain-aware temporal fusion (see temporal_fusion.h).
#include "video/temporal_fusion.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include <opencv2/core/utility.hpp>

#include <opencv2/imgproc.hpp>

namespace derain::detail {

namespace {

constexpr int kMaxSamples = 16;  // current frame + neighbours (window + lookahead is at most 13)

// BT.601 luma on 0..255 from 8-bit colour, weights for (c0, c1, c2) in the given channel order.
struct LumaWeights {
  float w0, w1, w2;
};
LumaWeights lumaWeights(ColorOrder order) {
  return order == ColorOrder::BGR ? LumaWeights{0.114f, 0.587f, 0.299f} : LumaWeights{0.299f, 0.587f, 0.114f};
}

// Whether current pixel c exceeds background b alike in every channel, as grey rain does (a channel near
// white cannot brighten: it is not compared).
bool greyExcess(const uint8_t* c, const uint8_t* b, const FusionParams& p) {
  constexpr int kSaturated = 250;
  float lo = 1e9f, hi = -1e9f;
  for (int ch = 0; ch < 3; ++ch) {
    if (c[ch] >= kSaturated) continue;
    const float d = static_cast<float>(c[ch]) - b[ch];
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  if (hi < lo) return true;  // white everywhere: rain may well have saturated it
  return hi - lo <= p.grey_spread + p.grey_spread_share * std::max(0.0f, hi);
}

}  // namespace

FusionResult fuseWithNeighbours(const cv::Mat& current, const std::vector<cv::Mat>& warped, const std::vector<cv::Mat>& valid,
                          const cv::Mat& attention, ColorOrder order, const FusionParams& p, cv::Mat& fused) {
  const int rows = current.rows, cols = current.cols;
  const int neighbours = std::min(static_cast<int>(warped.size()), kMaxSamples - 1);
  const LumaWeights lw = lumaWeights(order);
  auto luma = [&](const uint8_t* c) { return lw.w0 * c[0] + lw.w1 * c[1] + lw.w2 * c[2]; };

  // Pass 1: per pixel, the background sample (index: 0 = current, i + 1 = neighbour i) and the current
  // frame's luma excess over it.
  // Rows are independent in passes 1, 3 and 4: they run on OpenCV's worker threads (same arithmetic).
  cv::Mat excess(rows, cols, CV_8UC1), source(rows, cols, CV_8UC1), unsupported(rows, cols, CV_8UC1);
  cv::parallel_for_(cv::Range(0, rows), [&](const cv::Range& row_range) {
  for (int y = row_range.start; y < row_range.end; ++y) {
    const uint8_t* cur = current.ptr<uint8_t>(y);
    const uint8_t* nb[kMaxSamples];
    const uint8_t* ok[kMaxSamples];
    for (int i = 0; i < neighbours; ++i) {
      nb[i] = warped[i].ptr<uint8_t>(y);
      ok[i] = valid[i].ptr<uint8_t>(y);
    }
    uint8_t* ex = excess.ptr<uint8_t>(y);
    uint8_t* src = source.ptr<uint8_t>(y);
    uint8_t* alone = unsupported.ptr<uint8_t>(y);
    for (int x = 0; x < cols; ++x) {
      // Samples sorted by luma by insertion (a dozen at most).
      float value[kMaxSamples];
      uint8_t index[kMaxSamples];
      int n = 0;
      auto insert = [&](float v, uint8_t i) {
        int k = n++;
        for (; k > 0 && value[k - 1] > v; --k) {
          value[k] = value[k - 1];
          index[k] = index[k - 1];
        }
        value[k] = v;
        index[k] = i;
      };
      const float own = luma(cur + 3 * x);
      insert(own, 0);
      for (int i = 0; i < neighbours; ++i)
        if (ok[i][x]) insert(luma(nb[i] + 3 * x), static_cast<uint8_t>(i + 1));
      if (n == 1) {  // no trustworthy neighbour: keep the current frame, the generator takes over
        ex[x] = 0;
        src[x] = 0;
        alone[x] = 255;
        continue;
      }
      alone[x] = 0;
      // The darkest confirmed sample: value[k] with value[k + 1] close to it.
      // The darkest sample that another confirms; failing that (every sample differs, as with two or
      // three samples where one neighbour has rain too), the darkest: the photometric check has already
      // dropped grossly misaligned samples.
      int pick = 0;
      for (int k = 0; k + 1 < n; ++k)
        if (value[k + 1] - value[k] <= p.agree_levels) {
          pick = k;
          break;
        }
      ex[x] = static_cast<uint8_t>(std::clamp(own - value[pick], 0.0f, 255.0f));
      src[x] = index[pick];
    }
  }
  });

  // Pass 2: keep only thin excess (streaks); wide excess (blobs) is motion the alignment did not explain,
  // and nothing is replaced near it.
  cv::Mat thin, blob, guard;
  const int k = std::max(1, p.streak_max_width) | 1;
  cv::morphologyEx(excess, thin, cv::MORPH_TOPHAT, cv::getStructuringElement(cv::MORPH_RECT, {k, k}));
  blob = (excess - thin) > p.blob_excess;
  cv::dilate(blob, guard, cv::getStructuringElement(cv::MORPH_RECT, {2 * p.blob_guard + 1, 2 * p.blob_guard + 1}));

  // Pass 3: replacement weight from the thin excess and the attention mask; a streak's faint fringes, whose
  // own excess is below the threshold, follow its core (one pixel of growth, darker background only).
  cv::Mat weight(rows, cols, CV_32FC1, cv::Scalar(0.0f)), eligible(rows, cols, CV_8UC1, cv::Scalar(0));
  const float span = p.excess_outside_rain - p.excess_in_rain, inv_ramp = 1.0f / std::max(1e-3f, p.excess_ramp);
  cv::parallel_for_(cv::Range(0, rows), [&](const cv::Range& row_range) {
  for (int y = row_range.start; y < row_range.end; ++y) {
    const uint8_t* cur = current.ptr<uint8_t>(y);
    const uint8_t* th = thin.ptr<uint8_t>(y);
    const uint8_t* ex = excess.ptr<uint8_t>(y);
    const uint8_t* src = source.ptr<uint8_t>(y);
    const uint8_t* near_blob = guard.ptr<uint8_t>(y);
    const float* att = attention.empty() ? nullptr : attention.ptr<float>(y);
    float* w = weight.ptr<float>(y);
    uint8_t* el = eligible.ptr<uint8_t>(y);
    for (int x = 0; x < cols; ++x) {
      if (src[x] == 0 || near_blob[x] || ex[x] == 0) continue;
      const uint8_t* c = cur + 3 * x;
      if (!greyExcess(c, warped[src[x] - 1].ptr<uint8_t>(y) + 3 * x, p)) continue;
      el[x] = 255;
      const float a = att ? std::clamp(p.attention_gain * att[x], 0.0f, 1.0f) : 0.0f;
      w[x] = std::clamp((th[x] - (p.excess_outside_rain - span * a)) * inv_ramp, 0.0f, 1.0f);
    }
  }
  });
  cv::Mat grown;
  cv::dilate(weight, grown, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  grown.copyTo(weight, eligible);

  // Pass 4: blend towards the background sample.
  fused.create(rows, cols, CV_8UC3);
  std::atomic<int64_t> replaced{0};
  cv::parallel_for_(cv::Range(0, rows), [&](const cv::Range& row_range) {
  int64_t replaced_here = 0;
  for (int y = row_range.start; y < row_range.end; ++y) {
    const uint8_t* cur = current.ptr<uint8_t>(y);
    const uint8_t* src = source.ptr<uint8_t>(y);
    const float* w = weight.ptr<float>(y);
    uint8_t* out = fused.ptr<uint8_t>(y);
    for (int x = 0; x < cols; ++x) {
      const uint8_t* c = cur + 3 * x;
      uint8_t* o = out + 3 * x;
      if (w[x] <= 0.0f) {
        o[0] = c[0], o[1] = c[1], o[2] = c[2];
        continue;
      }
      ++replaced_here;
      const uint8_t* b = warped[src[x] - 1].ptr<uint8_t>(y) + 3 * x;
      for (int ch = 0; ch < 3; ++ch) o[ch] = static_cast<uint8_t>(std::lround(c[ch] + w[x] * (b[ch] - c[ch])));
    }
  }
  replaced += replaced_here;
  });
  FusionResult result;
  result.replaced = static_cast<double>(replaced.load()) / (static_cast<double>(rows) * cols);
  // Left to the generator: what the neighbours could not vouch for (no trustworthy sample, or next to an
  // unexplained blob such as a moving object).
  result.needs_generator = unsupported | guard;
  return result;
}

}  // namespace derain::detail
