// Using libderain's inference library (LibTorch) without linking it: the library is opened with
// dlopen on first use. Faces that must stay light until they actually run a network (the GStreamer
// plugin: a registry scan loads every plugin, and must not pull in LibTorch) go through this;
// applications that always derain simply link `derain` and use derain::Engine.
//
// Engines opened here are shared: the same model file with the same EngineOptions gives the same
// engine (one copy of the weights, one thread pool) to every caller in the process, e.g. the
// `derain` elements of a four-camera pipeline. A shared engine runs one frame at a time (callers
// from several threads queue on its lock), so streams never oversubscribe the cores. Callers that
// want frames to run at the same time (say two streams on two cores, one thread each: README,
// "Performance") name an instance: engines are shared only between callers naming the same one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derain/config.hpp"
#include "derain/engine_options.hpp"
#include "derain/export.hpp"
#include "derain/types.hpp"
#include "derain/video_options.hpp"

namespace derain {

// derain::Engine seen through virtual calls only (see engine.hpp for what each call does).
// Thread-safe: calls from several threads are serialised.
class DERAIN_API SharedEngine {
 public:
  virtual ~SharedEngine();
  virtual void derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order) = 0;
  virtual void rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order, const RainmakeOptions& rain) = 0;
  virtual void attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order) = 0;
  virtual const ModelConfig& config() const = 0;
  virtual std::string describe() const = 0;
  virtual bool trained() const = 0;
  // Last, so the slots above keep their places for plugins built before it.
  virtual void derainWithAttention(const cv::Mat& src, cv::Mat& dst, cv::Mat& mask, ColorOrder order) = 0;
};

// derain::VideoDerainer (video.hpp) seen through virtual calls: temporal deraining of one stream.
class DERAIN_API VideoStream {
 public:
  virtual ~VideoStream();
  virtual void process(const cv::Mat& frame, std::vector<cv::Mat>& ready) = 0;
  virtual void flush(std::vector<cv::Mat>& ready) = 0;
  virtual void reset() = 0;
  virtual int latency() const = 0;  // frames
};

class DERAIN_API InferenceLibrary {
 public:
  virtual ~InferenceLibrary();
  // The engine for (model file, options): an existing one when another caller holds it, else a
  // newly loaded one. Throws what derain::Engine's constructor throws (ModelFileError, DeviceError).
  virtual std::shared_ptr<SharedEngine> openShared(const std::string& model_path, const EngineOptions& options) = 0;
  // A temporal derainer of one stream over a shared engine (which it keeps alive). Throws
  // derain::Error for invalid options.
  virtual std::unique_ptr<VideoStream> openVideo(std::shared_ptr<SharedEngine> engine,
                                                 const VideoOptions& options) = 0;
  // How many engines are alive in the process, and how many holders the engine for
  // (model_path, options) has (0 when none is open; a VideoStream over it is one more holder): for
  // tests and diagnostics.
  virtual int openEngines() const = 0;
  virtual long holders(const std::string& model_path, const EngineOptions& options) const = 0;
  // The same for a named instance: callers that name different instances get different engines
  // for the same model and options; the calls above are the instance "". Last, so the slots above
  // keep their places for plugins built before them.
  virtual std::shared_ptr<SharedEngine> openSharedInstance(const std::string& model_path,
                                                           const EngineOptions& options,
                                                           const std::string& instance) = 0;
  virtual long instanceHolders(const std::string& model_path, const EngineOptions& options,
                               const std::string& instance) const = 0;
};

// The inference library, opened on the first call (later calls return the same object).
// Looks for libderain.so.<soversion> beside libderain-core, then on the loader's search path;
// $DERAIN_INFERENCE_LIBRARY names the file explicitly. Throws derain::Error naming the library and
// the loader's reason when it cannot be opened.
DERAIN_API InferenceLibrary& inferenceLibrary();

// Whether inferenceLibrary() has opened the library in this process (the plugin's tests check that
// registering elements does not).
DERAIN_API bool inferenceLibraryLoaded();

}  // namespace derain
