// Rain-aware temporal fusion (see temporal_fusion.h).
#include "video/temporal_fusion.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include <opencv2/core/hal/intrin.hpp>
#include <opencv2/core/utility.hpp>

#include <opencv2/imgproc.hpp>

#include "video/pixel_rounding.h"

namespace derain::detail {

namespace {

constexpr int kMaxSamples = 16;  // current frame + neighbours (window + lookahead is at most 13)
// Luma of a sample that is not there (invalid neighbour): above any real luma, so it sorts last.
constexpr float kNoSample = 1e6f;

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

// Luma of a row of 8-bit colour pixels as floats, in the same operations as the scalar
// w0 * c0 + w1 * c1 + w2 * c2 (so the same values); where `ok` is given and 0, `missing` instead.
void lumaRow(const uint8_t* colour, const uint8_t* ok, float missing, const LumaWeights& lw, int cols, float* out) {
  int x = 0;
#if CV_SIMD128
  const cv::v_float32x4 w0 = cv::v_setall_f32(lw.w0), w1 = cv::v_setall_f32(lw.w1), w2 = cv::v_setall_f32(lw.w2);
  const cv::v_float32x4 none = cv::v_setall_f32(missing);
  constexpr int kStep = cv::v_uint8x16::nlanes;
  for (; x + kStep <= cols; x += kStep) {
    cv::v_uint8x16 c0, c1, c2;
    cv::v_load_deinterleave(colour + 3 * x, c0, c1, c2);
    cv::v_uint16x8 c0_16[2], c1_16[2], c2_16[2], ok_16[2];
    cv::v_expand(c0, c0_16[0], c0_16[1]);
    cv::v_expand(c1, c1_16[0], c1_16[1]);
    cv::v_expand(c2, c2_16[0], c2_16[1]);
    cv::v_expand(ok ? cv::v_load(ok + x) : cv::v_setall_u8(255), ok_16[0], ok_16[1]);
    for (int half = 0; half < 2; ++half) {
      cv::v_uint32x4 a[2], b[2], c[2], k[2];
      cv::v_expand(c0_16[half], a[0], a[1]);
      cv::v_expand(c1_16[half], b[0], b[1]);
      cv::v_expand(c2_16[half], c[0], c[1]);
      cv::v_expand(ok_16[half], k[0], k[1]);
      for (int quarter = 0; quarter < 2; ++quarter) {
        const cv::v_float32x4 fa = cv::v_cvt_f32(cv::v_reinterpret_as_s32(a[quarter]));
        const cv::v_float32x4 fb = cv::v_cvt_f32(cv::v_reinterpret_as_s32(b[quarter]));
        const cv::v_float32x4 fc = cv::v_cvt_f32(cv::v_reinterpret_as_s32(c[quarter]));
        cv::v_float32x4 luma = w0 * fa + w1 * fb + w2 * fc;
        luma = cv::v_select(cv::v_reinterpret_as_f32(k[quarter] == cv::v_setzero_u32()), none, luma);
        cv::v_store(out + x + 8 * half + 4 * quarter, luma);
      }
    }
  }
#endif
  for (; x < cols; ++x) {
    const uint8_t* c = colour + 3 * x;
    out[x] = ok && !ok[x] ? missing : lw.w0 * c[0] + lw.w1 * c[1] + lw.w2 * c[2];
  }
}

}  // namespace

BackgroundSamples findBackground(const cv::Mat& current, const std::vector<cv::Mat>& warped,
                                 const std::vector<cv::Mat>& valid, ColorOrder order, const FusionParams& p) {
  const int rows = current.rows, cols = current.cols;
  const int neighbours = std::min(static_cast<int>(warped.size()), kMaxSamples - 1);
  const LumaWeights lw = lumaWeights(order);

  // Per pixel, the background sample (index: 0 = current, i + 1 = neighbour i) and the current frame's
  // luma excess over it. Rows are independent here and in the passes of fuseWithNeighbours: they run on
  // OpenCV's worker threads (same arithmetic).
  BackgroundSamples background;
  background.excess.create(rows, cols, CV_8UC1);
  background.source.create(rows, cols, CV_8UC1);
  background.unsupported.create(rows, cols, CV_8UC1);
  cv::Mat &excess = background.excess, &source = background.source, &unsupported = background.unsupported;
  const int samples = neighbours + 1;
  const float agree_levels = p.agree_levels;
  cv::parallel_for_(cv::Range(0, rows), [&](const cv::Range& row_range) {
    // One row at a time, sample-major (value[k][x]), so every step below is a loop over x without
    // branches (the compiler vectorises the sort; the lumas and the pick are written in universal
    // intrinsics): the per-pixel insertion sort this replaces branched on every sample.
    std::vector<float> value(static_cast<size_t>(samples) * cols), index(static_cast<size_t>(samples) * cols);
    std::vector<float> own(cols), pick_value(cols), pick_index(cols);
    for (int y = row_range.start; y < row_range.end; ++y) {
      const uint8_t* cur = current.ptr<uint8_t>(y);
      float* v0 = value.data();
      float* i0 = index.data();
      lumaRow(cur, nullptr, kNoSample, lw, cols, own.data());
      std::copy(own.begin(), own.end(), v0);
      std::fill(i0, i0 + cols, 0.0f);
      for (int i = 0; i < neighbours; ++i) {
        const size_t offset = static_cast<size_t>(i + 1) * cols;
        lumaRow(warped[i].ptr<uint8_t>(y), valid[i].ptr<uint8_t>(y), kNoSample, lw, cols, value.data() + offset);
        std::fill(index.data() + offset, index.data() + offset + cols, static_cast<float>(i + 1));
      }
      // Sorted by luma: odd-even transposition sort, which only swaps neighbours that are strictly out of
      // order, so equal values keep their order (the current frame first), as an insertion sort would.
      for (int round = 0; round < samples; ++round)
        for (int k = round % 2; k + 1 < samples; k += 2) {
          float* va = value.data() + static_cast<size_t>(k) * cols;
          float* vb = va + cols;
          float* ia = index.data() + static_cast<size_t>(k) * cols;
          float* ib = ia + cols;
          for (int x = 0; x < cols; ++x) {
            const bool swap = va[x] > vb[x];
            const float lo = swap ? vb[x] : va[x], hi = swap ? va[x] : vb[x];
            const float ilo = swap ? ib[x] : ia[x], ihi = swap ? ia[x] : ib[x];
            va[x] = lo, vb[x] = hi, ia[x] = ilo, ib[x] = ihi;
          }
        }
      // The darkest sample that another confirms (value[k + 1] within agree_levels of value[k]); failing
      // that (every sample differs, as with two or three samples where one neighbour has rain too), the
      // darkest: the photometric check has already dropped grossly misaligned samples.
      float* const pv = pick_value.data();
      float* const pi = pick_index.data();
      int x = 0;
#if CV_SIMD128
      // Four pixels at a time, every k tested (masks instead of the scalar loop's break).
      const cv::v_float32x4 no_sample = cv::v_setall_f32(kNoSample), agree = cv::v_setall_f32(agree_levels);
      for (; x + 4 <= cols; x += 4) {
        cv::v_float32x4 pick_v = cv::v_load(value.data() + x), pick_i = cv::v_load(index.data() + x);
        cv::v_float32x4 done = cv::v_setzero_f32();  // all bits set where a pick was made
        for (int k = 0; k + 1 < samples; ++k) {
          const cv::v_float32x4 va = cv::v_load(value.data() + static_cast<size_t>(k) * cols + x);
          const cv::v_float32x4 vb = cv::v_load(value.data() + static_cast<size_t>(k + 1) * cols + x);
          const cv::v_float32x4 ia = cv::v_load(index.data() + static_cast<size_t>(k) * cols + x);
          const cv::v_float32x4 take = (vb < no_sample) & ((vb - va) <= agree) & ~done;
          pick_v = cv::v_select(take, va, pick_v);
          pick_i = cv::v_select(take, ia, pick_i);
          done = done | take;
        }
        cv::v_store(pv + x, pick_v);
        cv::v_store(pi + x, pick_i);
      }
#endif
      for (; x < cols; ++x) {
        int pick = 0;
        for (int k = 0; k + 1 < samples; ++k) {
          const float a = value[static_cast<size_t>(k) * cols + x], b = value[static_cast<size_t>(k + 1) * cols + x];
          if (b < kNoSample && b - a <= agree_levels) {
            pick = k;
            break;
          }
        }
        pv[x] = value[static_cast<size_t>(pick) * cols + x];
        pi[x] = index[static_cast<size_t>(pick) * cols + x];
      }
      uint8_t* ex = excess.ptr<uint8_t>(y);
      uint8_t* src = source.ptr<uint8_t>(y);
      uint8_t* alone = unsupported.ptr<uint8_t>(y);
      const float* second = value.data() + cols;
      for (int x = 0; x < cols; ++x) {
        // No trustworthy neighbour: keep the current frame, the generator takes over.
        const bool no_neighbour = second[x] >= kNoSample;
        const float excess_here = std::min(std::max(own[x] - pick_value[x], 0.0f), 255.0f);
        alone[x] = static_cast<uint8_t>(no_neighbour * 255);
        ex[x] = static_cast<uint8_t>(static_cast<int>(excess_here) * !no_neighbour);
        src[x] = static_cast<uint8_t>(static_cast<int>(pick_index[x]) * !no_neighbour);
      }
    }
  });

  // Thin excess (streaks) only; wide excess (blobs) is motion the alignment did not explain, and nothing
  // is replaced near it.
  const int k = std::max(1, p.streak_max_width) | 1;
  cv::morphologyEx(excess, background.thin, cv::MORPH_TOPHAT, cv::getStructuringElement(cv::MORPH_RECT, {k, k}));
  const cv::Mat blob = (excess - background.thin) > p.blob_excess;
  cv::dilate(blob, background.near_blob,
             cv::getStructuringElement(cv::MORPH_RECT, {2 * p.blob_guard + 1, 2 * p.blob_guard + 1}));
  return background;
}

FusionResult fuseWithNeighbours(const cv::Mat& current, const std::vector<cv::Mat>& warped,
                                const BackgroundSamples& background, const cv::Mat& attention, const FusionParams& p,
                                cv::Mat& fused) {
  const int rows = current.rows, cols = current.cols;
  const cv::Mat &excess = background.excess, &source = background.source, &thin = background.thin,
                &guard = background.near_blob;

  // Replacement weight from the thin excess and the attention mask; a streak's faint fringes, whose
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

  // Blend towards the background sample.
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
      for (int ch = 0; ch < 3; ++ch) o[ch] = roundLevel(c[ch] + w[x] * (b[ch] - c[ch]));
    }
  }
  replaced += replaced_here;
  });
  FusionResult result;
  result.replaced = static_cast<double>(replaced.load()) / (static_cast<double>(rows) * cols);
  // Left to the generator: what the neighbours could not vouch for (no trustworthy sample, or next to an
  // unexplained blob such as a moving object).
  result.needs_generator = background.unsupported | guard;
  return result;
}

}  // namespace derain::detail
