// Engines shared within a process (inference_library.hpp): one per (model file, options), handed to
// every caller that asks for the same pair, and the entry point the lazy loader in derain-core finds.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "derain/engine.hpp"
#include "derain/export.hpp"
#include "derain/inference_library.hpp"
#include "derain/video.hpp"
#include "engine_thread.h"

namespace derain {

namespace {

// One frame at a time, all on the engine's own thread (engine_thread.h): streams share the engine's
// threads instead of fighting over the cores. The engine is also loaded (its weights converted and
// packed: LibTorch work) and destroyed there, so no caller thread ever starts a LibTorch thread pool:
// libgomp stops spin-waiting as soon as it manages more threads than there are cores, which on two
// cores made 2 streams give 19.01 fps in total where 1 gave 25.81 (derain-bench --streams 2 with the
// engine loaded by the caller, `ceiling 3x3 conv fp32: 410.3 GFLOP/s`); loaded here, 27.51 against
// 27.40 (ceiling 407.8).
class SerialEngine final : public SharedEngine {
 public:
  SerialEngine(const std::string& model_path, const EngineOptions& options) {
    thread_.run([&] { engine_ = std::make_unique<Engine>(model_path, options); });
  }
  ~SerialEngine() override {
    thread_.run([&] { engine_.reset(); });
  }
  void derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order) override {
    thread_.run([&] { engine_->derain(src, dst, order); });
  }
  void rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order, const RainmakeOptions& rain) override {
    thread_.run([&] { engine_->rainmake(src, dst, order, rain); });
  }
  void attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order) override {
    thread_.run([&] { engine_->attention(src, mask, order); });
  }
  void derainWithAttention(const cv::Mat& src, cv::Mat& dst, cv::Mat& mask, ColorOrder order) override {
    thread_.run([&] { engine_->derainWithAttention(src, dst, mask, order); });
  }
  const ModelConfig& config() const override { return engine_->config(); }
  std::string describe() const override { return engine_->describe(); }
  bool trained() const override { return engine_->trained(); }

 private:
  detail::EngineThread thread_;  // first: the engine is made on it
  std::unique_ptr<Engine> engine_;
};

// (canonical model path, options, instance name) identifies an engine.
using Key = std::tuple<std::string, int, int, int, int, int, bool, bool, float, std::string>;

Key keyOf(const std::string& model_path, const EngineOptions& o, const std::string& instance) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(model_path, ec);
  return {ec ? model_path : canonical.string(), static_cast<int>(o.device), static_cast<int>(o.precision), o.threads,
          o.tile_size, o.tile_overlap, o.grey_rain, o.bounded_rain, o.rain_strength, instance};
}

class TemporalStream final : public VideoStream {
 public:
  TemporalStream(std::shared_ptr<SharedEngine> engine, const VideoOptions& options)
      : video_(std::move(engine), options) {}
  void process(const cv::Mat& frame, std::vector<cv::Mat>& ready) override { video_.process(frame, ready); }
  void flush(std::vector<cv::Mat>& ready) override { video_.flush(ready); }
  void reset() override { video_.reset(); }
  int latency() const override { return video_.latency(); }

 private:
  VideoDerainer video_;
};

class SharedEngines final : public InferenceLibrary {
 public:
  std::shared_ptr<SharedEngine> openShared(const std::string& model_path, const EngineOptions& options) override {
    return openSharedInstance(model_path, options, "");
  }

  std::shared_ptr<SharedEngine> openSharedInstance(const std::string& model_path, const EngineOptions& options,
                                                   const std::string& instance) override {
    options.validate();
    const Key key = keyOf(model_path, options, instance);
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto existing = engines_[key].lock()) return existing;
    // Loaded under the lock: two elements starting together load the file once.
    auto engine = std::make_shared<SerialEngine>(model_path, options);
    engines_[key] = engine;
    return engine;
  }

  std::unique_ptr<VideoStream> openVideo(std::shared_ptr<SharedEngine> engine, const VideoOptions& options) override {
    return std::make_unique<TemporalStream>(std::move(engine), options);
  }

  int openEngines() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    int count = 0;
    for (const auto& item : engines_) count += item.second.expired() ? 0 : 1;
    return count;
  }

  long holders(const std::string& model_path, const EngineOptions& options) const override {
    return instanceHolders(model_path, options, "");
  }

  long instanceHolders(const std::string& model_path, const EngineOptions& options,
                       const std::string& instance) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = engines_.find(keyOf(model_path, options, instance));
    return found == engines_.end() ? 0 : found->second.use_count();
  }

 private:
  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<SerialEngine>> engines_;
};

}  // namespace

}  // namespace derain

// Found with dlsym by derain::inferenceLibrary() (derain-core). Linking derain and calling it
// directly works too.
extern "C" DERAIN_API derain::InferenceLibrary* derain_inference_library_v1() {
  static derain::SharedEngines library;
  return &library;
}
