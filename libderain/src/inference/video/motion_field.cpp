// Dense motion for temporal deraining (see motion_field.h).
#include "video/motion_field.h"

#include "video/bilinear_sample.h"

#include <opencv2/core/hal/intrin.hpp>
#include <opencv2/core/utility.hpp>

#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

namespace derain::detail {

namespace {

// Round trip l -> e -> l must close within this, in guide pixels, plus a share of the motion (Sundaram et
// al.'s test: larger motion is allowed a larger error).
constexpr float kConsistencyPixels = 0.75f;
constexpr float kConsistencyShare = 0.05f;
// A pixel is "explained" by the previous frame when its motion is consistent and the warped guide matches
// within this many grey levels (rain is mostly eroded out of the guides).
constexpr float kExplainedLevels = 24.0f;
// DIS pyramid level where the flow stops being refined (0 = guide resolution).
constexpr int kFlowFinestScale = 1;
// The forward flow that only checks the backward one (no look-ahead) stops a level coarser, without
// variational refinement: the round-trip test tolerates that (tuning clips: PSNR and object-region PSNR
// unchanged or better), and it saves about 45 % of what the two flows cost.
constexpr int kCheckFlowFinestScale = 2;
// Erosion that removes rain streaks (1-3 px wide at full resolution) from the guide.
constexpr int kGuideErosion = 3;
// Guides (rain mostly eroded away) of aligned frames agree within this, once error structures thinner than
// kThinErrorWindow are dropped and what remains is grown to kErrorMarginWindow.
constexpr float kPhotometricLevels = 10.0f;
constexpr int kThinErrorWindow = 3;
constexpr int kErrorMarginWindow = 5;
// The camera model is preferred unless the dense flow matches the target better by this many levels.
constexpr float kCameraPreferenceLevels = 1.0f;
// Camera homography fit: flow sampled every few guide pixels, RANSAC inlier distance (guide pixels), and
// the share of inliers below which the scene is not one rigid motion (no camera model then).
constexpr int kCameraSampleStep = 8;
constexpr size_t kCameraMinSamples = 24;
constexpr double kCameraInlierPixels = 0.75;
constexpr double kCameraMinInlierShare = 0.3;
// Confidence under this (after bilinear resampling) makes a warped sample invalid.
constexpr float kMinConfidence = 0.99f;
// The backward flow read outside the guide: an offset no round trip closes with.
constexpr float kFarOffset = 1e4f;

// The sampling map of an offset field: pixel x reads at x + offset(x) (one pass, no grid kept).
cv::Mat positions(const cv::Mat& offset) {
  cv::Mat map(offset.size(), CV_32FC2);
  for (int y = 0; y < offset.rows; ++y) {
    const float* o = offset.ptr<float>(y);
    float* m = map.ptr<float>(y);
    for (int x = 0; x < offset.cols; ++x) {
      m[2 * x] = static_cast<float>(x) + o[2 * x];
      m[2 * x + 1] = static_cast<float>(y) + o[2 * x + 1];
    }
  }
  return map;
}

// 1 on `flow`'s pixels where following it, then `back` at the landing point, returns home.
cv::Mat consistency(const cv::Mat& flow, const cv::Mat& back) {
  // `back` sampled as cv::remap would (BORDER_CONSTANT, far off: no round trip closes from outside).
  const BilinearSampler back_at(back, SampleBorder::kConstant, kFarOffset);
  cv::Mat ok(flow.size(), CV_32FC1);
  cv::parallel_for_(cv::Range(0, flow.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const auto* f = flow.ptr<cv::Vec2f>(y);
      float* o = ok.ptr<float>(y);
      for (int x = 0; x < flow.cols; ++x) {
        cv::Vec2f b;
        back_at.sample<2>(static_cast<float>(x) + f[x][0], static_cast<float>(y) + f[x][1], b.val);
        const cv::Vec2f loop = f[x] + b;
        const float err2 = loop.dot(loop), motion2 = f[x].dot(f[x]) + b.dot(b);
        o[x] = err2 <= kConsistencyShare * motion2 + kConsistencyPixels * kConsistencyPixels ? 1.0f : 0.0f;
      }
    }
  });
  return ok;
}

cv::Mat fitCamera(const cv::Mat& flow, const cv::Mat& ok);

}  // namespace

MotionEstimator::MotionEstimator(int downscale, bool forward_aligns)
    : downscale_(downscale), dis_(cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_FAST)) {
  // FAST stops refining at 1/4 of the guide's resolution (finest scale 2); one level finer costs little
  // at guide resolution and makes the warped neighbours visibly sharper.
  dis_->setFinestScale(kFlowFinestScale);
  if (forward_aligns) {
    forward_dis_ = dis_;
  } else {
    forward_dis_ = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_FAST);
    forward_dis_->setFinestScale(kCheckFlowFinestScale);
    forward_dis_->setVariationalRefinementIterations(0);
  }
}

cv::Mat MotionEstimator::guide(const cv::Mat& frame, ColorOrder order) const {
  cv::Mat grey, small;
  cv::cvtColor(frame, grey, order == ColorOrder::BGR ? cv::COLOR_BGR2GRAY : cv::COLOR_RGB2GRAY);
  if (downscale_ > 1) {
    const cv::Size size(std::max(8, frame.cols / downscale_), std::max(8, frame.rows / downscale_));
    cv::resize(grey, small, size, 0, 0, cv::INTER_AREA);
  } else {
    small = grey;
  }
  cv::Mat guide;
  cv::erode(small, guide, cv::getStructuringElement(cv::MORPH_RECT, {kGuideErosion, kGuideErosion}));
  return guide;
}

PairMotion MotionEstimator::estimate(const cv::Mat& earlier_guide, const cv::Mat& later_guide) {
  PairMotion m;
  dis_->calc(later_guide, earlier_guide, m.backward);
  forward_dis_->calc(earlier_guide, later_guide, m.forward);
  m.backward_ok = consistency(m.backward, m.forward);
  if (forward_dis_ == dis_) m.forward_ok = consistency(m.forward, m.backward);  // only look-ahead follows it
  // Explained fraction: consistent and photometrically matched (the scene-cut statistic).
  cv::Mat warped;
  cv::remap(earlier_guide, warped, positions(m.backward), cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::Mat diff;
  cv::absdiff(warped, later_guide, diff);
  cv::Mat matched = (diff < kExplainedLevels) & (m.backward_ok > 0.5f);
  m.explained = static_cast<double>(cv::countNonZero(matched)) / static_cast<double>(matched.total());
  m.camera_backward = fitCamera(m.backward, m.backward_ok);
  if (!m.camera_backward.empty()) m.camera_forward = m.camera_backward.inv();
  return m;
}

Alignment identityAlignment(cv::Size size) {
  return {cv::Mat::zeros(size, CV_32FC2), cv::Mat::ones(size, CV_32FC1), true};
}

Alignment chain(const Alignment& a, const cv::Mat& step, const cv::Mat& step_ok) {
  // From the target itself the hop is the step as it is (what resampling it at whole pixels would give).
  if (a.identity) return {step, step_ok};
  // Sample the next hop where the chain has got to so far: offset' = offset + step(x + offset), and the
  // confidences multiply; both samples as cv::remap takes them (bilinear_sample.h), in one pass.
  const BilinearSampler step_at(step, SampleBorder::kReplicate), ok_at(step_ok, SampleBorder::kConstant, 0.0f);
  Alignment next{cv::Mat(a.offset.size(), CV_32FC2), cv::Mat(a.offset.size(), CV_32FC1)};
  cv::parallel_for_(cv::Range(0, a.offset.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const auto* offset = a.offset.ptr<cv::Vec2f>(y);
      const float* confidence = a.confidence.ptr<float>(y);
      auto* next_offset = next.offset.ptr<cv::Vec2f>(y);
      float* next_confidence = next.confidence.ptr<float>(y);
      for (int x = 0; x < a.offset.cols; ++x) {
        const float px = static_cast<float>(x) + offset[x][0], py = static_cast<float>(y) + offset[x][1];
        cv::Vec2f step_there;
        float ok_there;
        step_at.sample<2>(px, py, step_there.val);
        ok_at.sample<1>(px, py, &ok_there);
        next_offset[x] = offset[x] + step_there;
        next_confidence[x] = confidence[x] * ok_there;
      }
    }
  });
  return next;
}

Alignment cameraAlignment(cv::Size size, const cv::Mat& camera) {
  Alignment a{cv::Mat(size, CV_32FC2), cv::Mat::ones(size, CV_32FC1)};
  const cv::Matx33d h = camera;
  cv::parallel_for_(cv::Range(0, size.height), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      auto* o = a.offset.ptr<cv::Vec2f>(y);
      for (int x = 0; x < size.width; ++x) {
        const cv::Vec3d p = h * cv::Vec3d(x, y, 1.0);
        o[x] = cv::Vec2f(static_cast<float>(p[0] / p[2] - x), static_cast<float>(p[1] / p[2] - y));
      }
    }
  });
  return a;
}

Alignment chooseAlignment(const Alignment& dense, const Alignment& camera, const cv::Mat& target_guide,
                          const cv::Mat& neighbour_guide) {
  // Photometric error of an alignment on the guide grid, in whole grey levels.
  auto error = [&](const Alignment& a) {
    cv::Mat warped, diff;
    cv::remap(neighbour_guide, warped, positions(a.offset), cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cv::absdiff(warped, target_guide, diff);
    // Rain left in the target (thin streaks, a minority of any small window) must not count as
    // misalignment, or the neighbours would be thrown away exactly where they are needed: a grey opening
    // drops error structures thinner than its window (as the 5x5 median before it did, at a small part of
    // its cost), and the wider growth keeps a margin around what remains (misaligned edges, moving objects).
    cv::erode(diff, diff, cv::getStructuringElement(cv::MORPH_RECT, {kThinErrorWindow, kThinErrorWindow}));
    cv::dilate(diff, diff, cv::getStructuringElement(cv::MORPH_RECT, {kErrorMarginWindow, kErrorMarginWindow}));
    return diff;
  };
  const cv::Mat dense_error = error(dense);
  const cv::Mat camera_error = camera.offset.empty() ? cv::Mat() : error(camera);
  Alignment chosen{cv::Mat(dense.offset.size(), CV_32FC2), cv::Mat(dense.offset.size(), CV_32FC1)};
  for (int y = 0; y < dense_error.rows; ++y) {
    const uint8_t* de = dense_error.ptr<uint8_t>(y);
    const uint8_t* ce = camera_error.empty() ? nullptr : camera_error.ptr<uint8_t>(y);
    const auto* dense_offset = dense.offset.ptr<cv::Vec2f>(y);
    const float* dense_confidence = dense.confidence.ptr<float>(y);
    const auto* camera_offset = ce ? camera.offset.ptr<cv::Vec2f>(y) : nullptr;
    const float* camera_confidence = ce ? camera.confidence.ptr<float>(y) : nullptr;
    auto* offset = chosen.offset.ptr<cv::Vec2f>(y);
    float* confidence = chosen.confidence.ptr<float>(y);
    for (int x = 0; x < dense_error.cols; ++x) {
      float error_here = de[x];
      if (ce && ce[x] <= de[x] + kCameraPreferenceLevels) {
        offset[x] = camera_offset[x];
        confidence[x] = camera_confidence[x];
        error_here = ce[x];
      } else {
        offset[x] = dense_offset[x];
        confidence[x] = dense_confidence[x];
      }
      if (error_here > kPhotometricLevels) confidence[x] = 0.0f;
    }
  }
  return chosen;
}

namespace {
// Homography (target -> neighbour, guide coordinates) that most consistent flow vectors follow, or empty.
cv::Mat fitCamera(const cv::Mat& flow, const cv::Mat& ok) {
  std::vector<cv::Point2f> from, to;
  for (int y = kCameraSampleStep / 2; y < flow.rows; y += kCameraSampleStep)
    for (int x = kCameraSampleStep / 2; x < flow.cols; x += kCameraSampleStep) {
      if (ok.at<float>(y, x) < 0.5f) continue;
      const cv::Vec2f f = flow.at<cv::Vec2f>(y, x);
      from.emplace_back(static_cast<float>(x), static_cast<float>(y));
      to.emplace_back(x + f[0], y + f[1]);
    }
  if (from.size() < kCameraMinSamples) return {};
  cv::Mat inliers;
  cv::Mat h = cv::findHomography(from, to, cv::RANSAC, kCameraInlierPixels, inliers);
  if (h.empty() || cv::countNonZero(inliers) < kCameraMinInlierShare * static_cast<double>(from.size())) return {};
  return h;
}
}  // namespace

void warpToTarget(const cv::Mat& neighbour, const Alignment& alignment, cv::Mat& warped, cv::Mat& valid) {
  const cv::Size full = neighbour.size(), small = alignment.offset.size();
  const float sx = static_cast<float>(full.width) / small.width, sy = static_cast<float>(full.height) / small.height;
  cv::Mat offset, confidence;
  cv::resize(alignment.offset, offset, full, 0, 0, cv::INTER_LINEAR);
  cv::resize(alignment.confidence, confidence, full, 0, 0, cv::INTER_LINEAR);
  // Guide-grid pixel centres sit at (x + 0.5) * s - 0.5 in the full frame; offsets only scale. The
  // sampling map is made in cv::remap's own fixed-point form (whole pixel, and the 1/32 pixel fraction
  // as an index into its weight table), rounded as remap rounds a float map (round half to even): the
  // same warp, without remap converting a float map block by block.
  constexpr int kBits = BilinearSampler::kTableBits, kFraction = BilinearSampler::kTableSize - 1;
  cv::Mat whole(full, CV_16SC2), fraction(full, CV_16UC1);
  valid.create(full, CV_8UC1);
  const float max_x = full.width - 1.0f, max_y = full.height - 1.0f;
  cv::parallel_for_(cv::Range(0, full.height), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const auto* o = offset.ptr<cv::Vec2f>(y);
      const float* c = confidence.ptr<float>(y);
      short* w = whole.ptr<short>(y);
      uint16_t* f = fraction.ptr<uint16_t>(y);
      uint8_t* v = valid.ptr<uint8_t>(y);
      int x = 0;
#if CV_SIMD128
      // Sixteen pixels at a time, the same operations as the scalar loop below.
      const cv::v_float32x4 scale_x = cv::v_setall_f32(sx), scale_y = cv::v_setall_f32(sy);
      const cv::v_float32x4 row = cv::v_setall_f32(static_cast<float>(y)), zero = cv::v_setzero_f32();
      const cv::v_float32x4 last_x = cv::v_setall_f32(max_x), last_y = cv::v_setall_f32(max_y);
      const cv::v_float32x4 min_confidence = cv::v_setall_f32(kMinConfidence);
      const cv::v_float32x4 table = cv::v_setall_f32(static_cast<float>(BilinearSampler::kTableSize));
      const cv::v_int32x4 fraction_mask = cv::v_setall_s32(kFraction);
      for (; x + 16 <= full.width; x += 16) {
        cv::v_uint32x4 ok[4];
        cv::v_int32x4 fixed_x[4], fixed_y[4];
        for (int q = 0; q < 4; ++q) {
          const int xq = x + 4 * q;
          cv::v_float32x4 ox, oy;
          cv::v_load_deinterleave(reinterpret_cast<const float*>(o + xq), ox, oy);
          const cv::v_float32x4 column(static_cast<float>(xq), static_cast<float>(xq + 1),
                                       static_cast<float>(xq + 2), static_cast<float>(xq + 3));
          const cv::v_float32x4 px = column + ox * scale_x, py = row + oy * scale_y;
          fixed_x[q] = cv::v_round(px * table);
          fixed_y[q] = cv::v_round(py * table);
          ok[q] = cv::v_reinterpret_as_u32((cv::v_load(c + xq) >= min_confidence) & (px >= zero) & (py >= zero) &
                                           (px <= last_x) & (py <= last_y));
        }
        for (int h = 0; h < 2; ++h) {
          // Whole pixels saturate to short, as remap's own conversion does.
          const cv::v_int16x8 wx = cv::v_pack(fixed_x[2 * h] >> kBits, fixed_x[2 * h + 1] >> kBits);
          const cv::v_int16x8 wy = cv::v_pack(fixed_y[2 * h] >> kBits, fixed_y[2 * h + 1] >> kBits);
          cv::v_store_interleave(w + 2 * (x + 8 * h), wx, wy);
          const cv::v_int32x4 f0 = ((fixed_y[2 * h] & fraction_mask) << kBits) | (fixed_x[2 * h] & fraction_mask);
          const cv::v_int32x4 f1 =
              ((fixed_y[2 * h + 1] & fraction_mask) << kBits) | (fixed_x[2 * h + 1] & fraction_mask);
          cv::v_store(f + x + 8 * h, cv::v_pack_u(f0, f1));
        }
        // All-ones lanes pack to 255, zero lanes to 0.
        const cv::v_uint16x8 low = cv::v_pack(ok[0] >> 16, ok[1] >> 16), high = cv::v_pack(ok[2] >> 16, ok[3] >> 16);
        cv::v_store(v + x, cv::v_pack(low >> 8, high >> 8));
      }
#endif
      for (; x < full.width; ++x) {
        const float px = x + o[x][0] * sx, py = y + o[x][1] * sy;
        const BilinearSampler::FixedPoint p = BilinearSampler::fixedPoint(px, py);
        w[2 * x] = static_cast<short>(p.x);
        w[2 * x + 1] = static_cast<short>(p.y);
        f[x] = static_cast<uint16_t>((p.fraction_y << kBits) | p.fraction_x);
        v[x] = (c[x] >= kMinConfidence && px >= 0 && py >= 0 && px <= max_x && py <= max_y) ? 255 : 0;
      }
    }
  });
  cv::remap(neighbour, warped, whole, fraction, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
}

}  // namespace derain::detail
