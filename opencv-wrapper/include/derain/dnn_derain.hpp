// OpenCV-style front end of libderain, shaped like cv::dnn_superres::DnnSuperResImpl:
//
//   auto net = cv::dnn_derain::DnnDerainImpl::create();
//   net->readModel("model.derain");
//   net->setPreferableTarget(cv::dnn_derain::TARGET_CPU);
//   net->derain(rainy, clean);                 // any CV_8U / CV_32F image with 1, 3 or 4 channels
//
// Every misuse (no model, empty image, unsupported depth or channel count, unknown backend or
// target, unreadable model file, device not available) raises cv::Exception with a message that
// says what was wrong; errors of libderain itself arrive as cv::Exception too. No torch types here.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "derain/config.hpp"

namespace cv {
namespace dnn_derain {

//! Inference backends. Only LibTorch exists; BACKEND_DEFAULT is LibTorch.
enum Backend {
  BACKEND_DEFAULT = 0,   //!< the library's choice (LibTorch)
  BACKEND_LIBTORCH = 1,  //!< LibTorch (CPU, and CUDA when libderain was built against a CUDA LibTorch)
};

//! Where and at what precision the networks run. The values start at 1000 so that one of
//! cv::dnn's (DNN_TARGET_CPU = 0, DNN_TARGET_CUDA = 6, ...) passed by mistake raises instead of
//! silently meaning something else.
enum Target {
  TARGET_AUTO = 1000,    //!< CUDA when built with it and a GPU is present, else CPU; FP32 (default)
  TARGET_CPU = 1001,     //!< CPU, FP32
  TARGET_CUDA = 1002,    //!< CUDA GPU, FP32; cv::Exception if this build or machine has no CUDA
  TARGET_CPU_BF16 = 1003,   //!< CPU, bfloat16 (native with avx512_bf16/AMX, emulated and slow elsewhere)
  TARGET_CUDA_BF16 = 1004,  //!< CUDA GPU, bfloat16 (native on Ampere and newer)
  TARGET_CPU_INT8 = 1005,   //!< CPU, bfloat16 with 8-bit integer convolutions; needs AVX-512 VNNI
};

/** @brief Removes rain from images (and synthesises it) with a DerainCycleGAN model file.

Images may be CV_8U (0..255), CV_16U (0..65535) or CV_32F (0..1) with
- 3 channels: colour, BGR unless setSwapRB(true) says RGB;
- 1 channel: grey; replicated to 3 channels for the model, the result converted back to grey
  (cv::COLOR_BGR2GRAY, or RGB2GRAY with swapRB) — so it equals converting the colour result;
- 4 channels: BGRA / RGBA; the colour channels are processed, alpha is copied through unchanged.
The result has the input's size, depth and channel count. Any size >= 1x1 works (the library
pads to the network's size multiple and crops back; large frames are tiled).

One object is not meant to be used from several threads at once; use one per thread.
 */
class CV_EXPORTS DnnDerainImpl {
 public:
  //! Empty object: call readModel() before processing.
  static Ptr<DnnDerainImpl> create();

  DnnDerainImpl();
  //! Same as DnnDerainImpl() followed by readModel(modelPath).
  explicit DnnDerainImpl(const String& modelPath);
  ~DnnDerainImpl();
  DnnDerainImpl(const DnnDerainImpl&) = delete;
  DnnDerainImpl& operator=(const DnnDerainImpl&) = delete;

  /** @brief Loads a model file (inference model or training checkpoint) for the current target.
  An empty path means the installed default model (derain::defaultModelPath(), overridable with
  the DERAIN_MODEL environment variable). On failure the previously loaded model stays loaded. */
  void readModel(const String& path);
  //! readModel(""): the installed default model; cv::Exception when none is installed.
  void readDefaultModel();

  /** @brief Selects the backend (a Backend value); cv::Exception for any other value. */
  void setPreferableBackend(int backendId);
  /** @brief Selects device and precision (a Target value). Checked at once: an unknown value or a
  CUDA target without CUDA raises cv::Exception and keeps the previous target. With a model loaded
  the model is reloaded for the new target. */
  void setPreferableTarget(int targetId);
  int getPreferableBackend() const;
  int getPreferableTarget() const;

  /** @brief Intra-op threads of the CPU backend; 0 (default) = every core, at most
  derain::kMaxThreads. Applied at once to a loaded model (no reload) and to later ones. Out of range
  raises. */
  void setNumThreads(int threads);
  int getNumThreads() const;

  //! true: 3- and 4-channel images are RGB(A) instead of OpenCV's BGR(A). Default false.
  void setSwapRB(bool swapRB);
  bool getSwapRB() const;

  /** @brief true (default): the rain layer removed from an image is made grey, keeping its luma
  (derain::EngineOptions::grey_rain: rain is achromatic, and the model's colour cast lives in that
  layer); false: the generator's output as it is. Applied at once to a loaded model (no reload). */
  void setGreyRain(bool grey);
  bool getGreyRain() const;

  /** @brief true (default): that grey layer is kept where rain can put it, never brightening a pixel
  nor darkening it below the darkest input pixel near it in its row, so an over-subtracted streak leaves
  no dark trace (derain::EngineOptions::bounded_rain); false: unbounded. No effect with setGreyRain(false).
  Applied at once to a loaded model (no reload). */
  void setBoundedRain(bool bounded);
  bool getBoundedRain() const;

  /** @brief How much of the rain layer the model finds is removed, before the bound: 1 (default) = the
  model's estimate, above 1 = more of heavy rain that 1 only thins (some cost on clean detail), 0 = the
  image unchanged (derain::EngineOptions::rain_strength). Outside [0, derain::kMaxRainStrength]:
  cv::Exception (StsOutOfRange). Applied at once to a loaded model (no reload). */
  void setRainStrength(float strength);
  float getRainStrength() const;

  /** @brief Video mode: with n > 0, derain(image) treats successive single images as the frames of one
  video and uses the n previous frames (aligned by optical flow) to remove rain that moves between
  frames (derain::VideoDerainer, causal: the result is still the current frame's). 0 (default) =
  every image alone. This makes the object stateful: call reset() at a cut, a seek or a new video;
  a change of frame size resets by itself. Batches (std::vector) are always processed image by image.
  n in [0, 8]; out of range raises. */
  void setTemporalWindow(int n);
  int getTemporalWindow() const;
  //! Forgets the previous frames of video mode (a new video, a seek, a cut).
  void reset();

  /** @brief Derains one image, or each image of a std::vector<Mat> (then @p result must be a
  std::vector<Mat> too and gets one image per input). In-place (result == image) is fine. */
  void derain(InputArray image, OutputArray result);
  //! Batch form: results[i] is derain(images[i]). All inputs are checked before any is processed.
  void derain(const std::vector<Mat>& images, std::vector<Mat>& results);

  /** @brief Synthesises rain on a clean image (the model's G_R). @p maskNoise > 0 adds Gaussian noise
  of that standard deviation to the attention mask, drawn from @p seed, to vary the rain. */
  void rainmake(InputArray image, OutputArray result, float maskNoise = 0.f, uint64_t seed = 0);
  //! Batch form: results[i] is rainmake(images[i], maskNoise, seed + i) (each image its own rain).
  void rainmake(const std::vector<Mat>& images, std::vector<Mat>& results, float maskNoise = 0.f,
                uint64_t seed = 0);

  //! The model's rain-streak attention mask of an image: CV_32FC1 in [0, 1], the image's size.
  void attention(InputArray image, OutputArray mask);

  //! Whether a model is loaded.
  bool empty() const;
  //! Path given to the last successful readModel() (the resolved default path for ""); "" if none.
  String getModelPath() const;
  //! Architecture of the loaded model (cv::Exception if none).
  const derain::ModelConfig& getModelConfig() const;
  //! Preset the loaded model was made from: "paper", "lite" or "custom".
  String getPreset() const;
  //! Recurrent stages of the loaded model's U-ARSE attention network.
  int getAttentionStages() const;
  //! Side lengths the networks need to be multiples of (the library pads internally).
  int getSizeMultiple() const;
  //! false when the loaded file holds an untrained model (useful only to try the plumbing).
  bool isTrained() const;
  //! One line: preset, device, precision, threads, parameter count.
  String describe() const;

 private:
  struct Impl;
  Ptr<Impl> impl_;
};

}  // namespace dnn_derain
}  // namespace cv
