// VideoDerainer (see derain/video.hpp): frame buffer, scene cuts, look-ahead scheduling; the motion and the
// fusion live in motion_field.cpp and temporal_fusion.cpp.
#include "derain/video.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <opencv2/core/utility.hpp>

#include "derain/error.hpp"
#include "video/motion_field.h"
#include "video/regional_derain.h"
#include "video/temporal_fusion.h"

namespace derain {

namespace {
// Frames smaller than this are not worth aligning (the flow needs a few patches).
constexpr int kMinTemporalSide = 16;

// A frame kept for context, with the motion that links it to the frame before it in the same scene.
struct Entry {
  cv::Mat frame;  // CV_8UC3, our own copy
  cv::Mat guide;  // reduced rain-suppressed grey (motion_field.h)
  cv::Mat to_previous, to_previous_ok;      // on this frame's guide grid: offset to the previous frame
  cv::Mat from_previous, from_previous_ok;  // on the previous frame's grid: offset to this frame
  cv::Mat to_previous_camera, from_previous_camera;  // camera homographies of the same hop (may be empty)
};
}  // namespace

struct VideoDerainer::Impl {
  // The networks: an Engine's or a shared engine's (kept alive by `shared`).
  std::function<void(const cv::Mat&, cv::Mat&, ColorOrder)> derain;
  std::function<void(const cv::Mat&, cv::Mat&, cv::Mat&, ColorOrder)> derain_with_attention;
  std::shared_ptr<SharedEngine> shared;
  VideoOptions options;
  detail::MotionEstimator motion;
  detail::FusionParams fusion;
  VideoStats stats;
  // Oldest first: up to temporal_window frames already output, then the frames waiting for their look-ahead.
  std::deque<Entry> entries;
  size_t next_output = 0;  // index in `entries` of the oldest frame not yet output

  Impl(Engine& e, const VideoOptions& o)
      : derain([&e](const cv::Mat& in, cv::Mat& out, ColorOrder order) { e.derain(in, out, order); }),
        derain_with_attention([&e](const cv::Mat& in, cv::Mat& out, cv::Mat& mask, ColorOrder order) {
          e.derainWithAttention(in, out, mask, order);
        }),
        options(o),
        motion(o.flow_downscale, o.lookahead > 0) {}
  Impl(std::shared_ptr<SharedEngine> e, const VideoOptions& o)
      : derain([p = e.get()](const cv::Mat& in, cv::Mat& out, ColorOrder order) { p->derain(in, out, order); }),
        derain_with_attention([p = e.get()](const cv::Mat& in, cv::Mat& out, cv::Mat& mask, ColorOrder order) {
          p->derainWithAttention(in, out, mask, order);
        }),
        shared(std::move(e)),  // the one reference that keeps it alive
        options(o),
        motion(o.flow_downscale, o.lookahead > 0) {}

  bool frameByFrame() const { return options.temporal_window == 0 && options.lookahead == 0; }

  // Frames the temporal path cannot align (tiny, grey, 16-bit, with alpha) are derained alone, like
  // frame-by-frame mode; Engine::derain checks (and adapts) them itself.
  static bool temporalFrame(const cv::Mat& frame) {
    return frame.type() == CV_8UC3 && frame.cols >= kMinTemporalSide && frame.rows >= kMinTemporalSide;
  }

  // Derains entries[index] with the aligned neighbours of its window that are in the buffer.
  cv::Mat derainEntry(size_t index) {
    const Entry& target = entries[index];
    const bool has_past = index > 0 && options.temporal_window > 0;
    const bool has_future = index + 1 < entries.size() && options.lookahead > 0;
    cv::Mat out;
    if (!has_past && !has_future) {  // first frame of a scene: exactly frame by frame
      derain(target.frame, out, options.color_order);
      stats.last_replaced = 0.0;
      stats.last_generated = 1.0;
      return out;
    }
    // (Aligning on another thread while the network runs was measured slower on 2 cores: OpenCV's
    // and LibTorch's pools then share them.)
    std::vector<cv::Mat> warped, valid;
    alignNeighbours(index, warped, valid);
    // The fusion's first step needs no attention: it runs before the network pass, while the cores are
    // less busy (for a while after it, OpenMP's idle workers spin; moved here it was measured ~25 % cheaper).
    const detail::BackgroundSamples background =
        detail::findBackground(target.frame, warped, valid, options.color_order, fusion);
    // One network pass gives both the attention the fusion needs and the frame's own derained
    // result, which fills what the neighbours could not.
    cv::Mat generated, attention, fused;
    derain_with_attention(target.frame, generated, attention, options.color_order);
    const detail::FusionResult fusion_result =
        detail::fuseWithNeighbours(target.frame, warped, background, attention, fusion, fused);
    stats.last_replaced = fusion_result.replaced;
    stats.last_generated = detail::blendGeneratedRegions(fused, generated, fusion_result.needs_generator, out);
    return out;
  }

  // The past (window) and future (look-ahead) neighbours of entries[index] in the buffer, warped onto it.
  void alignNeighbours(size_t index, std::vector<cv::Mat>& warped, std::vector<cv::Mat>& valid) const {
    const Entry& target = entries[index];
    // Chains first (each hop builds on the one before), then each neighbour on its own.
    struct Neighbour {
      const Entry* entry;
      detail::Alignment dense;
      cv::Mat camera;
    };
    std::vector<Neighbour> neighbours;
    // Camera homographies compose by products; an empty one (no rigid motion found) ends the camera chain.
    auto compose = [](const cv::Mat& step, const cv::Mat& so_far) -> cv::Mat {
      return step.empty() || so_far.empty() ? cv::Mat() : cv::Mat(step * so_far);
    };
    // Each direction chains from the target: hop frame by frame, composing the flows so each neighbour
    // costs one remap, not one flow. Each chain's state is new (constructed, not reassigned): the
    // neighbours already collected share its matrices.
    {  // past (window)
      detail::Alignment a = detail::identityAlignment(target.guide.size());
      cv::Mat camera = cv::Mat::eye(3, 3, CV_64F);
      for (size_t j = index; j > 0 && index - (j - 1) <= static_cast<size_t>(options.temporal_window); --j) {
        a = detail::chain(a, entries[j].to_previous, entries[j].to_previous_ok);
        camera = compose(entries[j].to_previous_camera, camera);
        neighbours.push_back({&entries[j - 1], a, camera});
      }
    }
    {  // future (look-ahead)
      detail::Alignment a = detail::identityAlignment(target.guide.size());
      cv::Mat camera = cv::Mat::eye(3, 3, CV_64F);
      for (size_t j = index + 1; j < entries.size() && j - index <= static_cast<size_t>(options.lookahead); ++j) {
        a = detail::chain(a, entries[j].from_previous, entries[j].from_previous_ok);
        camera = compose(entries[j].from_previous_camera, camera);
        neighbours.push_back({&entries[j], a, camera});
      }
    }
    // The neighbours are independent from here. Their alignment choices, on the small guide grid where
    // OpenCV's own functions run on one thread, share the cores neighbour by neighbour; their full-frame
    // warps run one after another, each spread over the cores by OpenCV itself (split by neighbour, three
    // warps on two cores left one core idle for a third of the time).
    std::vector<detail::Alignment> chosen(neighbours.size());
    cv::parallel_for_(cv::Range(0, static_cast<int>(neighbours.size())), [&](const cv::Range& range) {
      for (int i = range.start; i < range.end; ++i) {
        const Neighbour& n = neighbours[i];
        chosen[i] = detail::chooseAlignment(
            n.dense, n.camera.empty() ? detail::Alignment{} : detail::cameraAlignment(n.dense.offset.size(), n.camera),
            target.guide, n.entry->guide);
      }
    });
    warped.assign(neighbours.size(), cv::Mat());
    valid.assign(neighbours.size(), cv::Mat());
    for (size_t i = 0; i < neighbours.size(); ++i)
      detail::warpToTarget(neighbours[i].entry->frame, chosen[i], warped[i], valid[i]);
  }

  void emitNext(std::vector<cv::Mat>& ready) {
    ready.push_back(derainEntry(next_output));
    ++next_output;
    ++stats.frames_out;
    // Keep only the past frames the window can still use.
    while (next_output > static_cast<size_t>(options.temporal_window)) {
      entries.pop_front();
      --next_output;
    }
  }

  // Outputs every pending frame with whatever look-ahead the buffer holds, then forgets the scene.
  void finishScene(std::vector<cv::Mat>& ready) {
    while (next_output < entries.size()) emitNext(ready);
    entries.clear();
    next_output = 0;
  }

  void process(const cv::Mat& frame, std::vector<cv::Mat>& ready) {
    ++stats.frames_in;
    stats.last_was_scene_cut = false;
    if (frameByFrame() || !temporalFrame(frame)) {
      if (!entries.empty()) {  // a frame of another kind: the stream changed, finish the old one
        finishScene(ready);
        ++stats.resets;
      }
      cv::Mat out;
      derain(frame, out, options.color_order);
      ready.push_back(out);
      ++stats.frames_out;
      return;
    }
    if (!entries.empty() && entries.back().frame.size() != frame.size()) {  // new caps: a new stream
      finishScene(ready);
      ++stats.resets;
    }
    Entry entry;
    entry.frame = frame.clone();
    entry.guide = motion.guide(entry.frame, options.color_order);
    if (!entries.empty()) {
      detail::PairMotion m = motion.estimate(entries.back().guide, entry.guide);
      stats.last_explained = m.explained;
      if (m.explained < options.scene_cut_threshold) {
        finishScene(ready);
        ++stats.scene_cuts;
        stats.last_was_scene_cut = true;
      } else {
        entry.to_previous = std::move(m.backward);
        entry.to_previous_ok = std::move(m.backward_ok);
        entry.from_previous = std::move(m.forward);
        entry.from_previous_ok = std::move(m.forward_ok);
        entry.to_previous_camera = std::move(m.camera_backward);
        entry.from_previous_camera = std::move(m.camera_forward);
      }
    }
    entries.push_back(std::move(entry));
    while (entries.size() - next_output > static_cast<size_t>(options.lookahead)) emitNext(ready);
  }
};

VideoDerainer::VideoDerainer(std::shared_ptr<SharedEngine> engine, const VideoOptions& options) {
  options.validate();
  if (!engine) throw Error("VideoDerainer: no engine");
  impl_ = std::make_unique<Impl>(std::move(engine), options);
}

VideoDerainer::VideoDerainer(Engine& engine, const VideoOptions& options) {
  options.validate();
  impl_ = std::make_unique<Impl>(engine, options);
}
VideoDerainer::VideoDerainer(VideoDerainer&&) noexcept = default;
VideoDerainer& VideoDerainer::operator=(VideoDerainer&&) noexcept = default;
VideoDerainer::~VideoDerainer() = default;

void VideoDerainer::process(const cv::Mat& frame, std::vector<cv::Mat>& ready) { impl_->process(frame, ready); }

void VideoDerainer::flush(std::vector<cv::Mat>& ready) { impl_->finishScene(ready); }

void VideoDerainer::reset() {
  impl_->entries.clear();
  impl_->next_output = 0;
  ++impl_->stats.resets;
}

int VideoDerainer::latency() const { return impl_->options.lookahead; }
const VideoOptions& VideoDerainer::options() const { return impl_->options; }
const VideoStats& VideoDerainer::stats() const { return impl_->stats; }

}  // namespace derain
