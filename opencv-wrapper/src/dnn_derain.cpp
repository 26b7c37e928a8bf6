// cv::dnn_derain::DnnDerainImpl: OpenCV conventions (InputArray, cv::Exception, 1/3/4 channels)
// around derain::Engine, which itself only takes 3-channel CV_8U / CV_32F images.
#include "derain/dnn_derain.hpp"

#include <memory>
#include <string>
#include <utility>

#include <opencv2/core/check.hpp>
#include <opencv2/imgproc.hpp>

#include "derain/engine.hpp"
#include "derain/video.hpp"
#include "derain/error.hpp"

namespace cv {
namespace dnn_derain {

namespace {

const char* const kTargetNames =
    "TARGET_AUTO (1000), TARGET_CPU (1001), TARGET_CUDA (1002), TARGET_CPU_BF16 (1003), TARGET_CUDA_BF16 (1004), "
    "TARGET_CPU_INT8 (1005); "
    "cv::dnn::DNN_TARGET_* values are not targets of cv::dnn_derain";

bool isCudaTarget(int target) { return target == TARGET_CUDA || target == TARGET_CUDA_BF16; }

// `output`: the settings of the derained image (grey, bounded, strength), kept across reloads.
derain::EngineOptions engineOptions(int target, int threads, const derain::EngineOptions& output) {
  derain::EngineOptions options;
  options.grey_rain = output.grey_rain;
  options.bounded_rain = output.bounded_rain;
  options.rain_strength = output.rain_strength;
  switch (target) {
    case TARGET_AUTO: options.device = derain::Device::Auto; break;
    case TARGET_CPU:
    case TARGET_CPU_BF16:
    case TARGET_CPU_INT8: options.device = derain::Device::CPU; break;
    case TARGET_CUDA:
    case TARGET_CUDA_BF16: options.device = derain::Device::CUDA; break;
  }
  const bool bf16 = target == TARGET_CPU_BF16 || target == TARGET_CUDA_BF16;
  options.precision = target == TARGET_CPU_INT8 ? derain::Precision::INT8
                      : bf16                     ? derain::Precision::BF16
                                                 : derain::Precision::FP32;
  options.threads = threads;
  return options;
}

// Runs a call into libderain and re-raises whatever it throws as cv::Exception, so that callers
// of this wrapper only ever have to catch one exception type.
template <class Fn>
auto translated(const char* func, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const cv::Exception&) {
    throw;
  } catch (const derain::ModelFileError& e) {
    cv::error(Error::StsError, std::string("cannot load the model: ") + e.what(), func, __FILE__, __LINE__);
  } catch (const derain::DeviceError& e) {
    cv::error(Error::StsNotImplemented, std::string("device not available: ") + e.what(), func, __FILE__,
              __LINE__);
  } catch (const derain::Error& e) {
    cv::error(Error::StsBadArg, std::string("libderain: ") + e.what(), func, __FILE__, __LINE__);
  } catch (const std::exception& e) {
    cv::error(Error::StsInternal, std::string("libderain internal error: ") + e.what(), func, __FILE__,
              __LINE__);
  }
}

// Everything the wrapper accepts; anything else is rejected before libderain sees it.
void checkImage(const Mat& image, const char* func, size_t index = 0, bool batch = false) {
  const std::string which = batch ? "image " + std::to_string(index) + " of the batch" : "the image";
  if (image.empty())
    cv::error(Error::StsBadArg, which + " is empty", func, __FILE__, __LINE__);
  if (image.dims != 2)
    cv::error(Error::StsBadArg, which + " has " + std::to_string(image.dims) + " dimensions; expected 2",
              func, __FILE__, __LINE__);
  if (image.depth() != CV_8U && image.depth() != CV_16U && image.depth() != CV_32F)
    cv::error(Error::StsUnsupportedFormat,
              which + " has depth " + depthToString(image.depth()) +
                  "; expected CV_8U (0..255), CV_16U (0..65535) or CV_32F (0..1)",
              func, __FILE__, __LINE__);
  const int channels = image.channels();
  if (channels != 1 && channels != 3 && channels != 4)
    cv::error(Error::StsUnsupportedFormat,
              which + " has " + std::to_string(channels) +
                  " channels; expected 1 (grey), 3 (BGR/RGB) or 4 (BGRA/RGBA)",
              func, __FILE__, __LINE__);
}

bool isBatch(const _InputArray& array) {
  return array.isMatVector() || array.isUMatVector() || array.kind() == _InputArray::STD_ARRAY_MAT;
}

// Hands a finished batch to an OutputArray that must be a vector of Mat or UMat.
void writeBatch(const std::vector<Mat>& results, const _OutputArray& out, const char* func) {
  if (!out.isMatVector() && !out.isUMatVector())
    cv::error(Error::StsBadArg, "a batch of images needs a std::vector<cv::Mat> (or UMat) for the results",
              func, __FILE__, __LINE__);
  out.create(static_cast<int>(results.size()), 1, 0, -1, true);
  for (size_t i = 0; i < results.size(); ++i) {
    if (out.isMatVector())
      out.getMatRef(static_cast<int>(i)) = results[i];
    else
      results[i].copyTo(out.getUMatRef(static_cast<int>(i)));
  }
}

}  // namespace

struct DnnDerainImpl::Impl {
  std::unique_ptr<derain::Engine> engine;
  int temporal_window = 0;
  std::unique_ptr<derain::VideoDerainer> video;  // video mode's state; over `engine`, dropped with it
  std::string model_path;
  int backend = BACKEND_DEFAULT;
  int target = TARGET_AUTO;
  int threads = 0;
  bool swap_rb = false;
  derain::EngineOptions output;  // grey_rain, bounded_rain, rain_strength: the rest comes from target/threads

  derain::ColorOrder order() const { return swap_rb ? derain::ColorOrder::RGB : derain::ColorOrder::BGR; }

  derain::Engine& loaded(const char* func) const {
    if (!engine)
      cv::error(Error::StsError, "no model loaded: call readModel() first", func, __FILE__, __LINE__);
    return *engine;
  }

  // Loads path for target/threads; replaces the current engine only once that succeeded.
  void load(const std::string& path, int new_target, int new_threads, const char* func) {
    auto fresh = translated(func, [&] {
      return std::make_unique<derain::Engine>(path, engineOptions(new_target, new_threads, output));
    });
    video.reset();  // it refers to the engine being replaced
    engine = std::move(fresh);
    model_path = path;
    target = new_target;
    threads = new_threads;
  }

  // Grey, alpha and 16-bit are libderain's own business (Engine adapts them, the same way for every
  // face); the wrapper only turns its errors into cv::Exception.
  template <class Run>
  Mat process(const Mat& src, Run&& run, const char* func) const {
    derain::Engine& net = loaded(func);
    Mat out;
    translated(func, [&] { run(net, src, out); });
    return out;
  }

  // Video mode: the frame goes through the VideoDerainer (causal: exactly one result per frame).
  Mat derainFrame(const Mat& src, const char* func) {
    if (temporal_window == 0) return derainOne(src, func);
    derain::Engine& net = loaded(func);
    std::vector<Mat> ready;
    translated(func, [&] {
      if (!video) {
        derain::VideoOptions options;
        options.temporal_window = temporal_window;
        options.color_order = order();
        video = std::make_unique<derain::VideoDerainer>(net, options);
      }
      video->process(src, ready);
    });
    CV_Assert(ready.size() == 1);
    return ready.front();
  }

  Mat derainOne(const Mat& src, const char* func) const {
    return process(src, [&](derain::Engine& net, const Mat& in, Mat& out) { net.derain(in, out, order()); },
                   func);
  }

  Mat rainmakeOne(const Mat& src, float noise, uint64_t seed, const char* func) const {
    derain::RainmakeOptions rain;
    rain.mask_noise = noise;
    rain.seed = seed;
    return process(
        src, [&](derain::Engine& net, const Mat& in, Mat& out) { net.rainmake(in, out, order(), rain); },
        func);
  }
};

Ptr<DnnDerainImpl> DnnDerainImpl::create() { return makePtr<DnnDerainImpl>(); }

DnnDerainImpl::DnnDerainImpl() : impl_(makePtr<Impl>()) {}

DnnDerainImpl::DnnDerainImpl(const String& modelPath) : DnnDerainImpl() { readModel(modelPath); }

DnnDerainImpl::~DnnDerainImpl() = default;

void DnnDerainImpl::readModel(const String& path) {
  std::string resolved = path;
  if (resolved.empty()) {
    resolved = translated(CV_Func, [] { return derain::defaultModelPath(); });
    if (resolved.empty())
      CV_Error(Error::StsObjectNotFound,
               "no model path given and no default model is installed; pass a model file "
               "(or set the DERAIN_MODEL environment variable)");
  }
  impl_->load(resolved, impl_->target, impl_->threads, CV_Func);
}

void DnnDerainImpl::readDefaultModel() { readModel(String()); }

void DnnDerainImpl::setPreferableBackend(int backendId) {
  if (backendId != BACKEND_DEFAULT && backendId != BACKEND_LIBTORCH)
    CV_Error(Error::StsBadArg, "unknown backend " + std::to_string(backendId) +
                                   "; libderain has BACKEND_DEFAULT (0) and BACKEND_LIBTORCH (1)");
  impl_->backend = backendId;
}

void DnnDerainImpl::setPreferableTarget(int targetId) {
  if (targetId < TARGET_AUTO || targetId > TARGET_CPU_INT8)
    CV_Error(Error::StsBadArg, "unknown target " + std::to_string(targetId) + "; expected one of " + kTargetNames);
  if (isCudaTarget(targetId)) {
    // Said here rather than at the next readModel(), where the cause would be less obvious.
    if (!derain::cudaBuilt())
      CV_Error(Error::GpuNotSupported,
               "CUDA target requested, but libderain was built against a CPU-only LibTorch");
    if (!derain::cudaAvailable())
      CV_Error(Error::GpuNotSupported, "CUDA target requested, but no CUDA GPU is available");
  }
  if (impl_->engine && targetId != impl_->target)
    impl_->load(impl_->model_path, targetId, impl_->threads, CV_Func);
  impl_->target = targetId;
}

int DnnDerainImpl::getPreferableBackend() const { return impl_->backend; }
int DnnDerainImpl::getPreferableTarget() const { return impl_->target; }

void DnnDerainImpl::setNumThreads(int threads) {
  if (threads < 0 || threads > derain::kMaxThreads)
    CV_Error(Error::StsOutOfRange, "thread count must be in [0, " + std::to_string(derain::kMaxThreads) +
                                       "] (0 = every core), got " + std::to_string(threads));
  if (impl_->engine) translated(CV_Func, [&] { impl_->engine->setThreads(threads); });
  impl_->threads = threads;
}

int DnnDerainImpl::getNumThreads() const { return impl_->threads; }

void DnnDerainImpl::setSwapRB(bool swapRB) {
  if (swapRB != impl_->swap_rb) impl_->video.reset();  // its frames were in the other order
  impl_->swap_rb = swapRB;
}

void DnnDerainImpl::setGreyRain(bool grey) {
  if (grey != impl_->output.grey_rain) impl_->video.reset();  // its frames were derained the other way
  if (impl_->engine) impl_->engine->setGreyRain(grey);
  impl_->output.grey_rain = grey;
}

bool DnnDerainImpl::getGreyRain() const { return impl_->output.grey_rain; }

void DnnDerainImpl::setBoundedRain(bool bounded) {
  if (bounded != impl_->output.bounded_rain) impl_->video.reset();  // its frames were derained the other way
  if (impl_->engine) impl_->engine->setBoundedRain(bounded);
  impl_->output.bounded_rain = bounded;
}

bool DnnDerainImpl::getBoundedRain() const { return impl_->output.bounded_rain; }

void DnnDerainImpl::setRainStrength(float strength) {
  derain::EngineOptions checked = impl_->output;
  checked.rain_strength = strength;
  try {
    checked.validate();  // the engines' own range check (NaN fails too)
  } catch (const derain::Error& e) {
    CV_Error(Error::StsOutOfRange, e.what());
  }
  if (strength != impl_->output.rain_strength) impl_->video.reset();  // its frames were derained the other way
  if (impl_->engine) impl_->engine->setRainStrength(strength);
  impl_->output.rain_strength = strength;
}

float DnnDerainImpl::getRainStrength() const { return impl_->output.rain_strength; }

void DnnDerainImpl::setTemporalWindow(int n) {
  if (n < 0 || n > derain::kMaxTemporalWindow)
    CV_Error(Error::StsOutOfRange, "temporal window must be in [0, " + std::to_string(derain::kMaxTemporalWindow) +
                                       "] (0 = every image alone), got " + std::to_string(n));
  if (n != impl_->temporal_window) impl_->video.reset();
  impl_->temporal_window = n;
}

int DnnDerainImpl::getTemporalWindow() const { return impl_->temporal_window; }

void DnnDerainImpl::reset() { impl_->video.reset(); }
bool DnnDerainImpl::getSwapRB() const { return impl_->swap_rb; }

void DnnDerainImpl::derain(InputArray image, OutputArray result) {
  if (isBatch(image)) {
    std::vector<Mat> images, results;
    image.getMatVector(images);
    derain(images, results);
    writeBatch(results, result, CV_Func);
    return;
  }
  const Mat src = image.getMat();
  checkImage(src, CV_Func);
  impl_->derainFrame(src, CV_Func).copyTo(result);
}

void DnnDerainImpl::derain(const std::vector<Mat>& images, std::vector<Mat>& results) {
  impl_->loaded(CV_Func);
  for (size_t i = 0; i < images.size(); ++i) checkImage(images[i], CV_Func, i, true);
  std::vector<Mat> out;
  out.reserve(images.size());
  for (const Mat& src : images) out.push_back(impl_->derainOne(src, CV_Func));
  results = std::move(out);  // only now: a failure above leaves results untouched
}

void DnnDerainImpl::rainmake(InputArray image, OutputArray result, float maskNoise, uint64_t seed) {
  if (isBatch(image)) {
    std::vector<Mat> images, results;
    image.getMatVector(images);
    rainmake(images, results, maskNoise, seed);
    writeBatch(results, result, CV_Func);
    return;
  }
  const Mat src = image.getMat();
  checkImage(src, CV_Func);
  impl_->rainmakeOne(src, maskNoise, seed, CV_Func).copyTo(result);
}

void DnnDerainImpl::rainmake(const std::vector<Mat>& images, std::vector<Mat>& results, float maskNoise,
                             uint64_t seed) {
  impl_->loaded(CV_Func);
  for (size_t i = 0; i < images.size(); ++i) checkImage(images[i], CV_Func, i, true);
  std::vector<Mat> out;
  out.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i)
    out.push_back(impl_->rainmakeOne(images[i], maskNoise, seed + i, CV_Func));
  results = std::move(out);
}

void DnnDerainImpl::attention(InputArray image, OutputArray mask) {
  const Mat src = image.getMat();
  checkImage(src, CV_Func);
  derain::Engine& net = impl_->loaded(CV_Func);
  Mat out;
  translated(CV_Func, [&] { net.attention(src, out, impl_->order()); });
  out.copyTo(mask);
}

bool DnnDerainImpl::empty() const { return !impl_->engine; }

String DnnDerainImpl::getModelPath() const { return impl_->engine ? impl_->model_path : String(); }

const derain::ModelConfig& DnnDerainImpl::getModelConfig() const { return impl_->loaded(CV_Func).config(); }

String DnnDerainImpl::getPreset() const { return getModelConfig().preset; }

int DnnDerainImpl::getAttentionStages() const { return getModelConfig().attention.stages; }

int DnnDerainImpl::getSizeMultiple() const {
  const derain::ModelConfig& config = getModelConfig();
  return translated(CV_Func, [&] { return config.sizeMultiple(); });
}

bool DnnDerainImpl::isTrained() const { return impl_->loaded(CV_Func).trained(); }

String DnnDerainImpl::describe() const {
  const derain::Engine& net = impl_->loaded(CV_Func);
  return translated(CV_Func, [&] { return net.describe(); });
}

}  // namespace dnn_derain
}  // namespace cv
