// cv::dnn_derain::DnnDerainImpl: same pixels as derain::Engine, every accepted image type, batches,
// targets, and a cv::Exception for every misuse. Uses a tiny untrained "lite" model written to a
// temporary file, so nothing outside the tree is needed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "derain/dnn_derain.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/video.hpp"

namespace fs = std::filesystem;
using cv::Mat;
using cv::dnn_derain::DnnDerainImpl;

namespace {

// Pseudo-random image of any type: 0..255 for CV_8U, 0..1 for CV_32F.
Mat randomImage(int width, int height, int type, uint64_t seed) {
  Mat image(height, width, type);
  cv::RNG rng(seed);
  if (CV_MAT_DEPTH(type) == CV_8U)
    rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  else
    rng.fill(image, cv::RNG::UNIFORM, 0.0, 1.0);
  return image;
}

// Same size, type and bytes.
bool identical(const Mat& a, const Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  const size_t row_bytes = a.cols * a.elemSize();
  for (int y = 0; y < a.rows; ++y)
    if (std::memcmp(a.ptr(y), b.ptr(y), row_bytes) != 0) return false;
  return true;
}

// what() of the cv::Exception fn throws; a marker when it throws something else or nothing.
template <class Fn>
std::string cvErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const cv::Exception& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a cv::Exception: ") + e.what() + ">";
  }
  return "<no exception>";
}

#define EXPECT_CV_ERROR(statement, fragment)                                       \
  do {                                                                             \
    const std::string message_ = cvErrorOf([&] { statement; });                   \
    EXPECT_NE(message_.find(fragment), std::string::npos) << "message: " << message_; \
  } while (0)

}  // namespace

class DnnDerainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("dnn_derain_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    // A copy of the shipped model (tests move it around): a trained model changes every channel,
    // luma included, so "the output differs" checks mean something with the grey rain layer on
    // (an untrained lite model's changes are mostly colour, which that layer takes out).
    model_ = new std::string((*dir_ / "model.derain").string());
    fs::copy_file(derain::defaultModelPath(), *model_);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete model_;
    delete dir_;
  }

  void SetUp() override {
    engine_ = std::make_unique<derain::Engine>(*model_, cpuOptions());
    net_ = DnnDerainImpl::create();
    net_->setPreferableTarget(cv::dnn_derain::TARGET_CPU);
    net_->readModel(*model_);
  }

  static derain::EngineOptions cpuOptions() {
    derain::EngineOptions options;
    options.device = derain::Device::CPU;
    return options;
  }

  // What the core gives for an image already in the engine's 3-channel form.
  Mat coreDerain(const Mat& color, derain::ColorOrder order = derain::ColorOrder::BGR) {
    Mat out;
    engine_->derain(color, out, order);
    return out;
  }

  static fs::path* dir_;
  static std::string* model_;
  std::unique_ptr<derain::Engine> engine_;
  cv::Ptr<DnnDerainImpl> net_;
};

fs::path* DnnDerainTest::dir_ = nullptr;
std::string* DnnDerainTest::model_ = nullptr;

// --- same pixels as the core --------------------------------------------------------------------

TEST_F(DnnDerainTest, DerainEqualsCoreEngineBitExactly) {
  for (int type : {CV_8UC3, CV_32FC3}) {
    for (cv::Size size : {cv::Size(24, 20), cv::Size(13, 11)}) {
      const Mat rainy = randomImage(size.width, size.height, type, 11);
      Mat out;
      net_->derain(rainy, out);
      const Mat expected = coreDerain(rainy);
      EXPECT_TRUE(identical(out, expected)) << cv::typeToString(type) << " " << size;
      EXPECT_FALSE(identical(out, rainy)) << "the model changed nothing";
    }
  }
}

// setGreyRain: default on, like the engines; off gives the engine's raw generator output, on again
// the default output; all bit-exact, applied to the loaded model.
TEST_F(DnnDerainTest, GreyRainFollowsTheEngineOption) {
  EXPECT_TRUE(net_->getGreyRain());
  const Mat rainy = randomImage(24, 20, CV_8UC3, 21);
  derain::EngineOptions raw_options = cpuOptions();
  raw_options.grey_rain = false;
  derain::Engine raw(*model_, raw_options);
  Mat raw_expected, out;
  raw.derain(rainy, raw_expected);
  net_->setGreyRain(false);
  EXPECT_FALSE(net_->getGreyRain());
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, raw_expected));
  EXPECT_FALSE(identical(out, coreDerain(rainy))) << "grey rain made no difference";
  net_->setGreyRain(true);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, coreDerain(rainy)));
}

// setRainStrength: default 1, like the engines; 1.8 gives the engine's output at that strength and 1
// the default again, bit-exact, applied to the loaded model; out of range raises StsOutOfRange and
// keeps the value.
TEST_F(DnnDerainTest, RainStrengthFollowsTheEngineOption) {
  EXPECT_EQ(net_->getRainStrength(), 1.0f);
  const Mat rainy = randomImage(24, 20, CV_8UC3, 21);
  derain::EngineOptions stronger_options = cpuOptions();
  stronger_options.rain_strength = 1.8f;
  derain::Engine stronger(*model_, stronger_options);
  Mat stronger_expected, out;
  stronger.derain(rainy, stronger_expected);
  net_->setRainStrength(1.8f);
  EXPECT_EQ(net_->getRainStrength(), 1.8f);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, stronger_expected));
  EXPECT_FALSE(identical(out, coreDerain(rainy))) << "the strength made no difference";
  for (float bad : {-1.0f, derain::kMaxRainStrength + 1.0f}) {
    try {
      net_->setRainStrength(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const cv::Exception& e) {
      EXPECT_EQ(e.code, cv::Error::StsOutOfRange);
    }
  }
  EXPECT_EQ(net_->getRainStrength(), 1.8f);
  net_->setRainStrength(1.0f);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, coreDerain(rainy)));
}

// setBoundedRain: default on, like the engines; off gives the engine's unbounded grey layer, on again
// the default output; all bit-exact, applied to the loaded model.
TEST_F(DnnDerainTest, BoundedRainFollowsTheEngineOption) {
  EXPECT_TRUE(net_->getBoundedRain());
  const Mat rainy = randomImage(24, 20, CV_8UC3, 21);
  derain::EngineOptions unbounded_options = cpuOptions();
  unbounded_options.bounded_rain = false;
  derain::Engine unbounded(*model_, unbounded_options);
  Mat unbounded_expected, out;
  unbounded.derain(rainy, unbounded_expected);
  net_->setBoundedRain(false);
  EXPECT_FALSE(net_->getBoundedRain());
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, unbounded_expected));
  EXPECT_FALSE(identical(out, coreDerain(rainy))) << "the bound made no difference";
  net_->setBoundedRain(true);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, coreDerain(rainy)));
}

TEST_F(DnnDerainTest, RainmakeEqualsCoreEngineBitExactly) {
  const Mat clean = randomImage(24, 20, CV_8UC3, 12);
  derain::RainmakeOptions rain;
  rain.mask_noise = 0.3f;
  rain.seed = 42;
  Mat expected, out;
  engine_->rainmake(clean, expected, derain::ColorOrder::BGR, rain);
  net_->rainmake(clean, out, 0.3f, 42);
  EXPECT_TRUE(identical(out, expected));

  // Without noise it is the plain G_R(Att(n), n).
  engine_->rainmake(clean, expected, derain::ColorOrder::BGR);
  net_->rainmake(clean, out);
  EXPECT_TRUE(identical(out, expected));
}

TEST_F(DnnDerainTest, AttentionEqualsCoreEngine) {
  const Mat rainy = randomImage(13, 11, CV_8UC3, 13);
  Mat expected, mask;
  engine_->attention(rainy, expected);
  net_->attention(rainy, mask);
  EXPECT_EQ(mask.type(), CV_32FC1);
  EXPECT_TRUE(identical(mask, expected));
}

TEST_F(DnnDerainTest, SwapRBMeansRgbInput) {
  const Mat rainy = randomImage(24, 20, CV_8UC3, 14);
  Mat bgr_out, rgb_out;
  net_->derain(rainy, bgr_out);
  net_->setSwapRB(true);
  EXPECT_TRUE(net_->getSwapRB());
  net_->derain(rainy, rgb_out);
  EXPECT_TRUE(identical(rgb_out, coreDerain(rainy, derain::ColorOrder::RGB)));
  EXPECT_FALSE(identical(rgb_out, bgr_out)) << "channel order made no difference";
}

TEST_F(DnnDerainTest, InPlaceAndRoiInputs) {
  const Mat rainy = randomImage(24, 20, CV_8UC3, 15);
  Mat expected;
  net_->derain(rainy, expected);

  Mat in_place = rainy.clone();
  net_->derain(in_place, in_place);
  EXPECT_TRUE(identical(in_place, expected));

  // A non-continuous view into a larger image gives the same as the same pixels copied out.
  Mat big = randomImage(40, 30, CV_8UC3, 16);
  rainy.copyTo(big(cv::Rect(5, 7, 24, 20)));
  const Mat roi = big(cv::Rect(5, 7, 24, 20));
  ASSERT_FALSE(roi.isContinuous());
  Mat roi_out;
  net_->derain(roi, roi_out);
  EXPECT_TRUE(identical(roi_out, expected));
}

// --- every accepted type and channel count ---------------------------------------------------------

TEST_F(DnnDerainTest, EveryAcceptedTypeKeepsTypeAndSize) {
  for (int depth : {CV_8U, CV_32F}) {
    for (int channels : {1, 3, 4}) {
      for (cv::Size size : {cv::Size(24, 20), cv::Size(13, 11), cv::Size(1, 1)}) {
        const int type = CV_MAKETYPE(depth, channels);
        const Mat image = randomImage(size.width, size.height, type, 17);
        Mat derained, rained;
        net_->derain(image, derained);
        net_->rainmake(image, rained);
        EXPECT_EQ(derained.type(), type) << cv::typeToString(type) << " " << size;
        EXPECT_EQ(derained.size(), size) << cv::typeToString(type);
        EXPECT_EQ(rained.type(), type) << cv::typeToString(type);
        EXPECT_EQ(rained.size(), size) << cv::typeToString(type);
        if (depth == CV_32F) {  // float results stay in [0, 1] like the input
          double lo = 0, hi = 0;
          cv::minMaxLoc(derained.reshape(1), &lo, &hi);
          EXPECT_GE(lo, 0.0) << cv::typeToString(type);
          EXPECT_LE(hi, 1.0) << cv::typeToString(type);
        }
        Mat mask;
        net_->attention(image, mask);
        EXPECT_EQ(mask.type(), CV_32FC1);
        EXPECT_EQ(mask.size(), size);
      }
    }
  }
}

TEST_F(DnnDerainTest, GreyIsReplicatedThenConvertedBack) {
  for (int depth : {CV_8U, CV_32F}) {
    const Mat grey = randomImage(24, 20, CV_MAKETYPE(depth, 1), 18);
    Mat color, expected, out;
    cv::cvtColor(grey, color, cv::COLOR_GRAY2BGR);
    cv::cvtColor(coreDerain(color), expected, cv::COLOR_BGR2GRAY);
    net_->derain(grey, out);
    EXPECT_TRUE(identical(out, expected)) << cv::depthToString(depth);

    // With swapRB the colour result is RGB, so RGB2GRAY weights apply.
    net_->setSwapRB(true);
    cv::cvtColor(coreDerain(color, derain::ColorOrder::RGB), expected, cv::COLOR_RGB2GRAY);
    net_->derain(grey, out);
    EXPECT_TRUE(identical(out, expected)) << cv::depthToString(depth) << " swapRB";
    net_->setSwapRB(false);
  }
}

TEST_F(DnnDerainTest, AlphaPassesThroughUnchanged) {
  for (int depth : {CV_8U, CV_32F}) {
    const Mat bgra = randomImage(13, 11, CV_MAKETYPE(depth, 4), 19);
    Mat out;
    net_->derain(bgra, out);
    ASSERT_EQ(out.type(), bgra.type());

    Mat alpha_in, alpha_out;
    cv::extractChannel(bgra, alpha_in, 3);
    cv::extractChannel(out, alpha_out, 3);
    EXPECT_TRUE(identical(alpha_out, alpha_in)) << cv::depthToString(depth);

    Mat bgr, out_bgr;
    cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
    cv::cvtColor(out, out_bgr, cv::COLOR_BGRA2BGR);
    EXPECT_TRUE(identical(out_bgr, coreDerain(bgr))) << cv::depthToString(depth);
  }
}

// --- batches ---------------------------------------------------------------------------------------

TEST_F(DnnDerainTest, BatchEqualsImageByImage) {
  const std::vector<Mat> images = {randomImage(24, 20, CV_8UC3, 20), randomImage(13, 11, CV_32FC1, 21),
                                   randomImage(13, 11, CV_8UC4, 22)};
  std::vector<Mat> batch;
  net_->derain(images, batch);
  ASSERT_EQ(batch.size(), images.size());

  // The InputArrayOfArrays form dispatches to the same thing.
  std::vector<Mat> via_arrays;
  net_->derain(cv::_InputArray(images), cv::_OutputArray(via_arrays));
  ASSERT_EQ(via_arrays.size(), images.size());

  for (size_t i = 0; i < images.size(); ++i) {
    Mat single;
    net_->derain(images[i], single);
    EXPECT_TRUE(identical(batch[i], single)) << "image " << i;
    EXPECT_TRUE(identical(via_arrays[i], single)) << "image " << i;
  }
}

TEST_F(DnnDerainTest, RainmakeBatchGivesEachImageItsOwnSeed) {
  const std::vector<Mat> images = {randomImage(24, 20, CV_8UC3, 23), randomImage(24, 20, CV_8UC3, 24)};
  std::vector<Mat> batch;
  net_->rainmake(images, batch, 0.5f, 100);
  ASSERT_EQ(batch.size(), 2u);
  for (size_t i = 0; i < images.size(); ++i) {
    Mat single;
    net_->rainmake(images[i], single, 0.5f, 100 + i);
    EXPECT_TRUE(identical(batch[i], single)) << "image " << i;
  }
}

TEST_F(DnnDerainTest, BadImageInBatchThrowsAndLeavesResultsAlone) {
  const std::vector<Mat> images = {randomImage(24, 20, CV_8UC3, 25), Mat(8, 8, CV_16SC3, cv::Scalar(1))};
  const Mat sentinel(2, 2, CV_8UC1, cv::Scalar(7));
  std::vector<Mat> results = {sentinel};
  EXPECT_CV_ERROR(net_->derain(images, results), "image 1 of the batch has depth");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(identical(results[0], sentinel));
}

TEST_F(DnnDerainTest, BatchIntoSingleMatThrows) {
  const std::vector<Mat> images = {randomImage(24, 20, CV_8UC3, 26)};
  Mat single;
  EXPECT_CV_ERROR(net_->derain(cv::_InputArray(images), cv::_OutputArray(single)), "std::vector<cv::Mat>");
}

// --- misuse ----------------------------------------------------------------------------------------

TEST_F(DnnDerainTest, NoModelLoaded) {
  auto fresh = DnnDerainImpl::create();
  EXPECT_TRUE(fresh->empty());
  EXPECT_EQ(fresh->getModelPath(), "");
  const Mat image = randomImage(24, 20, CV_8UC3, 27);
  Mat out;
  EXPECT_CV_ERROR(fresh->derain(image, out), "no model loaded");
  EXPECT_CV_ERROR(fresh->rainmake(image, out), "no model loaded");
  EXPECT_CV_ERROR(fresh->attention(image, out), "no model loaded");
  std::vector<Mat> batch;
  EXPECT_CV_ERROR(fresh->derain(std::vector<Mat>{image}, batch), "no model loaded");
  EXPECT_CV_ERROR(fresh->getModelConfig(), "no model loaded");
  EXPECT_CV_ERROR(fresh->getPreset(), "no model loaded");
  EXPECT_CV_ERROR(fresh->describe(), "no model loaded");
  EXPECT_TRUE(out.empty());
}

TEST_F(DnnDerainTest, SixteenBitRoundTripsDepthAndAlphaThroughTheEngine) {
  Mat rgba16 = randomImage(24, 20, CV_8UC4, 33), out;
  rgba16.convertTo(rgba16, CV_16UC4, 257.0);
  net_->derain(rgba16, out);
  ASSERT_EQ(out.type(), CV_16UC4);
  Mat expected;
  derain::Engine core(*model_, cpuOptions());
  core.derain(rgba16, expected);
  EXPECT_TRUE(identical(out, expected));
  Mat alpha_in, alpha_out;
  cv::extractChannel(rgba16, alpha_in, 3);
  cv::extractChannel(out, alpha_out, 3);
  EXPECT_TRUE(identical(alpha_in, alpha_out));
}

TEST_F(DnnDerainTest, TemporalWindowMakesDerainAVideoFilter) {
  // Six frames of one scene with rain moving between them: in video mode the wrapper gives exactly
  // what derain::VideoDerainer gives; reset() starts over (the first frame again equals a frame
  // derained alone), and 0 goes back to image-by-image.
  std::vector<Mat> frames;
  for (int i = 0; i < 6; ++i) {
    Mat frame = randomImage(48, 40, CV_8UC3, 40);
    cv::line(frame, cv::Point(5 + 6 * i, 0), cv::Point(9 + 6 * i, 39), cv::Scalar::all(250), 1);
    frames.push_back(frame);
  }
  derain::Engine core(*model_, cpuOptions());
  derain::VideoOptions options;
  options.temporal_window = 3;
  derain::VideoDerainer video(core, options);
  std::vector<Mat> expected;
  for (const Mat& f : frames) video.process(f, expected);
  ASSERT_EQ(expected.size(), frames.size());

  EXPECT_CV_ERROR(net_->setTemporalWindow(derain::kMaxTemporalWindow + 1), "temporal window");
  EXPECT_CV_ERROR(net_->setTemporalWindow(-1), "temporal window");
  net_->setTemporalWindow(3);
  EXPECT_EQ(net_->getTemporalWindow(), 3);
  for (size_t i = 0; i < frames.size(); ++i) {
    Mat out;
    net_->derain(frames[i], out);
    EXPECT_TRUE(identical(out, expected[i])) << "frame " << i;
  }
  net_->reset();
  Mat first;
  net_->derain(frames[0], first);
  EXPECT_TRUE(identical(first, coreDerain(frames[0])));
  net_->setTemporalWindow(0);
  Mat alone;
  net_->derain(frames[5], alone);
  EXPECT_TRUE(identical(alone, coreDerain(frames[5])));
}

TEST_F(DnnDerainTest, BadImagesAreRejected) {
  Mat out;
  EXPECT_CV_ERROR(net_->derain(Mat(), out), "empty");
  EXPECT_CV_ERROR(net_->derain(Mat(20, 24, CV_16SC3, cv::Scalar(1)), out), "depth CV_16S");
  EXPECT_CV_ERROR(net_->derain(Mat(20, 24, CV_64FC3, cv::Scalar(0.5)), out), "depth CV_64F");
  EXPECT_CV_ERROR(net_->derain(Mat(20, 24, CV_8UC2, cv::Scalar(1)), out), "2 channels");
  EXPECT_CV_ERROR(net_->rainmake(Mat(20, 24, CV_16SC3, cv::Scalar(1)), out), "depth CV_16S");
  EXPECT_CV_ERROR(net_->rainmake(Mat(20, 24, CV_8UC2, cv::Scalar(1)), out), "2 channels");
  EXPECT_CV_ERROR(net_->attention(Mat(), out), "empty");
  // Checked by libderain itself: its derain::Error arrives as a cv::Exception.
  EXPECT_CV_ERROR(net_->rainmake(randomImage(24, 20, CV_8UC3, 32), out, -1.f), "mask noise must be >= 0");
  const int sizes[] = {2, 3, 4};
  EXPECT_CV_ERROR(net_->derain(Mat(3, sizes, CV_8UC3, cv::Scalar(1)), out), "3 dimensions");
  EXPECT_TRUE(out.empty());
}

TEST_F(DnnDerainTest, UnknownBackendAndTargetAreRejected) {
  EXPECT_CV_ERROR(net_->setPreferableBackend(7), "unknown backend 7");
  EXPECT_EQ(net_->getPreferableBackend(), cv::dnn_derain::BACKEND_DEFAULT);
  net_->setPreferableBackend(cv::dnn_derain::BACKEND_LIBTORCH);
  EXPECT_EQ(net_->getPreferableBackend(), cv::dnn_derain::BACKEND_LIBTORCH);

  EXPECT_CV_ERROR(net_->setPreferableTarget(99), "unknown target 99");
  EXPECT_CV_ERROR(net_->setPreferableTarget(-1), "unknown target -1");
  // cv::dnn's target ids (DNN_TARGET_CPU = 0, DNN_TARGET_OPENCL = 1, DNN_TARGET_CUDA = 6) are not ours.
  for (int dnn_target : {0, 1, 2, 3, 4, 6, 7})
    EXPECT_CV_ERROR(net_->setPreferableTarget(dnn_target), "unknown target " + std::to_string(dnn_target));
  EXPECT_EQ(net_->getPreferableTarget(), cv::dnn_derain::TARGET_CPU);
  EXPECT_CV_ERROR(net_->setNumThreads(-2), "thread count");
  EXPECT_CV_ERROR(net_->setNumThreads(derain::kMaxThreads + 1), "thread count");
  EXPECT_EQ(net_->getNumThreads(), 0);
}

TEST_F(DnnDerainTest, CudaTargetWithoutCudaIsAClearError) {
  if (derain::cudaAvailable()) GTEST_SKIP() << "a CUDA GPU is present";
  const Mat rainy = randomImage(24, 20, CV_8UC3, 28);
  Mat before, after;
  net_->derain(rainy, before);
  EXPECT_CV_ERROR(net_->setPreferableTarget(cv::dnn_derain::TARGET_CUDA), "CUDA");
  EXPECT_CV_ERROR(net_->setPreferableTarget(cv::dnn_derain::TARGET_CUDA_BF16), "CUDA");
  // Nothing lost: same target, same model, same output.
  EXPECT_EQ(net_->getPreferableTarget(), cv::dnn_derain::TARGET_CPU);
  net_->derain(rainy, after);
  EXPECT_TRUE(identical(after, before));
}

TEST_F(DnnDerainTest, MissingOrCorruptModelFileKeepsThePreviousModel) {
  const std::string missing = (*dir_ / "does-not-exist.derain").string();
  EXPECT_CV_ERROR(net_->readModel(missing), "does-not-exist.derain");

  const std::string corrupt = (*dir_ / "corrupt.derain").string();
  std::ofstream(corrupt) << "this is not a derain model\n";
  EXPECT_CV_ERROR(net_->readModel(corrupt), "corrupt.derain");

  auto fresh = DnnDerainImpl::create();
  EXPECT_CV_ERROR(fresh->readModel(missing), "cannot load the model");
  EXPECT_TRUE(fresh->empty());

  // The earlier model is still there and still works.
  EXPECT_FALSE(net_->empty());
  EXPECT_EQ(net_->getModelPath(), *model_);
  const Mat rainy = randomImage(13, 11, CV_8UC3, 29);
  Mat out;
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, coreDerain(rainy)));
}

// --- targets, configuration ---------------------------------------------------------------------

TEST_F(DnnDerainTest, ChangingTargetAfterReadModelRebindsTheEngine) {
  const Mat rainy = randomImage(24, 20, CV_32FC3, 30);
  EXPECT_NE(net_->describe().find("fp32"), std::string::npos) << net_->describe();
  net_->setPreferableTarget(cv::dnn_derain::TARGET_CPU_BF16);
  EXPECT_EQ(net_->getPreferableTarget(), cv::dnn_derain::TARGET_CPU_BF16);
  EXPECT_FALSE(net_->empty());
  EXPECT_NE(net_->describe().find("bf16"), std::string::npos) << net_->describe();

  derain::EngineOptions bf16 = cpuOptions();
  bf16.precision = derain::Precision::BF16;
  derain::Engine core_bf16(*model_, bf16);
  Mat expected, out;
  core_bf16.derain(rainy, expected);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, expected));
  EXPECT_FALSE(identical(out, coreDerain(rainy))) << "bf16 gave exactly the fp32 result: not rebound";

  net_->setPreferableTarget(cv::dnn_derain::TARGET_CPU);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, coreDerain(rainy)));
}

TEST_F(DnnDerainTest, Int8TargetGivesTheCoreInt8Engine) {
  derain::EngineOptions int8 = cpuOptions();
  int8.precision = derain::Precision::INT8;
  std::unique_ptr<derain::Engine> core_int8;
  try {
    core_int8 = std::make_unique<derain::Engine>(*model_, int8);
  } catch (const derain::DeviceError& e) {
    // The wrapper refuses it the same way, as a cv::Exception naming the reason.
    EXPECT_CV_ERROR(net_->setPreferableTarget(cv::dnn_derain::TARGET_CPU_INT8), "int8");
    GTEST_SKIP() << e.what();
  }
  net_->setPreferableTarget(cv::dnn_derain::TARGET_CPU_INT8);
  EXPECT_EQ(net_->getPreferableTarget(), cv::dnn_derain::TARGET_CPU_INT8);
  EXPECT_NE(net_->describe().find("int8"), std::string::npos) << net_->describe();
  const Mat rainy = randomImage(24, 20, CV_8UC3, 31);
  Mat expected, out;
  core_int8->derain(rainy, expected);
  net_->derain(rainy, out);
  EXPECT_TRUE(identical(out, expected));
}

TEST_F(DnnDerainTest, ThreadCountReachesTheEngineWithoutReloading) {
  // Reloading would read the file again: remove it, so only an in-place change can succeed.
  const std::string moved = *model_ + ".moved";
  std::filesystem::rename(*model_, moved);
  net_->setNumThreads(1);
  std::filesystem::rename(moved, *model_);
  EXPECT_EQ(net_->getNumThreads(), 1);
  EXPECT_NE(net_->describe().find(", 1 thread(s)"), std::string::npos) << net_->describe();
  const Mat rainy = randomImage(13, 11, CV_8UC3, 31);
  Mat out;
  net_->derain(rainy, out);
  EXPECT_EQ(derain::runtimeThreads(), 1);  // read before the core engine below applies its own
  EXPECT_TRUE(identical(out, coreDerain(rainy)));  // same pixels on one thread
}

TEST_F(DnnDerainTest, ModelConfigurationGetters) {
  const derain::ModelConfig lite = derain::ModelConfig::lite();
  EXPECT_FALSE(net_->empty());
  EXPECT_EQ(net_->getModelPath(), *model_);
  EXPECT_TRUE(net_->getModelConfig() == lite);
  EXPECT_EQ(net_->getPreset(), "lite");
  EXPECT_EQ(net_->getAttentionStages(), lite.attention.stages);
  EXPECT_EQ(net_->getSizeMultiple(), lite.sizeMultiple());
  EXPECT_EQ(net_->isTrained(), engine_->trained());
  EXPECT_EQ(net_->describe(), engine_->describe());
}

TEST_F(DnnDerainTest, DefaultModelComesFromDerainModelVariable) {
  const char* old = std::getenv("DERAIN_MODEL");
  const std::string saved = old ? old : "";
  ::setenv("DERAIN_MODEL", model_->c_str(), 1);
  auto fresh = DnnDerainImpl::create();
  fresh->readDefaultModel();
  EXPECT_EQ(fresh->getModelPath(), *model_);
  auto from_empty = DnnDerainImpl::create();
  from_empty->readModel("");
  EXPECT_EQ(from_empty->getModelPath(), *model_);
  if (old)
    ::setenv("DERAIN_MODEL", saved.c_str(), 1);
  else
    ::unsetenv("DERAIN_MODEL");
}
