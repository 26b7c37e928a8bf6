#include "derain/engine.hpp"

#include <type_traits>
#include <sstream>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "derain/error.hpp"
#include "image_channels.h"
#include "model_file.h"
#include "networks.h"
#include "denormals.h"
#include "runtime.h"
#include "grey_rain.h"
#include "nets/channel_cat.h"
#include "nets/int8_scope.h"
#include "tensor_image.h"
#include "tiling.h"

namespace derain {

namespace {
// LibTorch reports its own failures (out of memory above all) as c10::Error, whose message carries a
// C++ backtrace. The public API promises derain::Error: keep the first line, the reason.
template <typename Call>
auto translated(Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const c10::Error& e) {
    std::string reason = e.what_without_backtrace();
    if (auto newline = reason.find('\n'); newline != std::string::npos) reason.resize(newline);
    throw Error("LibTorch: " + reason);
  }
}

// What derainWithAttention's forward gives for a tile: the derained image and the attention mask.
struct TileWithMask {
  at::Tensor image;
  at::Tensor mask;
};
}  // namespace

struct Engine::Impl {
  ModelConfig config;
  EngineOptions options;
  Device device = Device::CPU;
  Precision precision = Precision::FP32;
  int threads = 1;
  bool trained = false;
  std::string recipe;  // the file's "recipe" meta (empty when it has none)
  detail::DerainCycleGAN net{nullptr};
  // fp32 CPU copy of the weights, kept only when the network itself is converted to bf16, so that
  // save() still writes the exact weights; otherwise save() reads them from the network.
  detail::ContainerFile bf16_master;
  at::Tensor luma_weights;  // 1 x 3 x 1 x 1 BT.601 weights (RGB) on the device, in the engine's dtype

  void prepare() {
    device = detail::resolveDevice(options.device);
    precision = detail::resolvePrecision(options.precision, device);
    threads = detail::resolveThreads(options.threads);
    detail::applyThreads(threads);
    if (precision == Precision::BF16 || precision == Precision::INT8) bf16_master = inferenceFile();
    net->eval();
    net->to(detail::torchDevice(device), detail::torchDtype(precision));
    detail::toChannelsLast(*net);
    luma_weights = torch::tensor({0.299f, 0.587f, 0.114f})
                       .to(detail::torchDevice(device), detail::torchDtype(precision))
                       .view({1, 3, 1, 1});
  }

  // The derained tile under EngineOptions::grey_rain: input - luma(input - derained), the removed layer
  // grey with its own luma (bounded under EngineOptions::bounded_rain); else the generator's output as
  // it is. Either way the removed layer scaled by EngineOptions::rain_strength.
  at::Tensor finishDerained(const at::Tensor& input, const at::Tensor& derained) const {
    if (!options.grey_rain) {
      if (options.rain_strength == 1.0f) return derained;
      return (input - (input - derained) * options.rain_strength).contiguous(at::MemoryFormat::ChannelsLast);
    }
    return detail::greyRain(input, derained, luma_weights, options.bounded_rain, options.rain_strength);
  }

  // The inference model file of this engine: config plus U-ARSE / G_N / G_R weights in fp32.
  detail::ContainerFile inferenceFile() const {
    if (!bf16_master.tensors.empty()) return bf16_master;
    detail::ContainerFile file;
    file.kind = detail::FileKind::Model;
    file.setMeta("config", config.toText());
    if (!recipe.empty()) file.setMeta(detail::kRecipeMeta, recipe);
    for (const auto& item : net->named_parameters())
      file.tensors.emplace_back(item.key(), item.value().detach().to(torch::kCPU, torch::kFloat32).clone());
    return file;
  }

  int tileSize(int width, int height) const {
    if (options.tile_size > 0) return options.tile_size;
    return int64_t{width} * height > kAutoTileMaxPixels ? kAutoTileSize : std::max(width, height);
  }

  // A tile of a 3-channel image as the networks take it: [-1, 1], padded to the size multiple, on the
  // engine's device in its dtype.
  at::Tensor networkInput(const cv::Mat& colour, const detail::Span& rows, const detail::Span& cols,
                          ColorOrder order) const {
    const cv::Mat tile = colour(cv::Rect(cols.begin, rows.begin, cols.size, rows.size));
    const auto dtype = detail::torchDtype(precision);
    // Made on the CPU in the engine's dtype; another device gets it in fp32 and converts it there.
    if (device == Device::CPU) return detail::networkTensor(tile, order, config.sizeMultiple(), dtype);
    return detail::networkTensor(tile, order, config.sizeMultiple(), torch::kFloat32)
        .to(detail::torchDevice(device), dtype)
        .contiguous(at::MemoryFormat::ChannelsLast);
  }

  // Runs `forward` (device tensor in the engine's dtype -> output) over a 3-channel image tile by
  // tile, streaming: each tile is converted from the image on its own and finished rows go straight
  // into the result of `out_type`, so no whole-frame float buffer exists when the frame is tiled.
  // With `mask`, forward returns the image and the attention mask (a TileWithMask), and the mask is
  // returned there.
  template <typename Forward>
  cv::Mat run(const cv::Mat& colour, ColorOrder order, int out_type, Forward&& forward, cv::Mat* mask = nullptr) {
    detail::applyThreads(threads);
    detail::FlushDenormalsScope denormals(threads);  // a trained net's tiny values are ~3x slower otherwise
    c10::InferenceMode inference;
    detail::Int8Scope int8(precision == Precision::INT8);
    const int height = colour.rows, width = colour.cols;
    cv::Mat result;
    // A one-tile frame's mask, kept apart from its image: no 4-channel copy to blend, and each is
    // converted from a dense tensor.
    at::Tensor whole_mask;
    detail::processTiledRows(height, width, tileSize(width, height), options.tile_overlap,
        [&](const detail::Span& rows, const detail::Span& cols) {
          const auto padded = networkInput(colour, rows, cols, order);
          // In the engine's dtype: tensorToImage reads bf16 as it is, and the tile blend computes in
          // float (bf16 * float weights promotes), so no separate conversion pass.
          auto cropped = [&](const at::Tensor& out) {
            return out.narrow(2, 0, rows.size).narrow(3, 0, cols.size).to(torch::kCPU);
          };
          if constexpr (std::is_invocable_r_v<TileWithMask, Forward&, const at::Tensor&>) {
            const TileWithMask out = forward(padded);
            if (rows.size == height && cols.size == width) {
              whole_mask = cropped(out.mask);
              return cropped(out.image);
            }
            return cropped(detail::catChannels({out.image, out.mask}));  // blended together, split in emit
          } else if constexpr (std::is_invocable_v<Forward&, const at::Tensor&, const detail::Span&,
                                                   const detail::Span&>) {
            // A forward that needs the tile's place (rainmake's reference).
            return cropped(forward(padded, rows, cols));
          } else {
            return cropped(forward(padded));
          }
        },
        [&](int first_row, const at::Tensor& rows) {
          const bool split = mask != nullptr && !whole_mask.defined();
          const int64_t image_channels = split ? rows.size(1) - 1 : rows.size(1);
          cv::Mat finished = detail::tensorToImage(rows.narrow(1, 0, image_channels), out_type, order);
          if (mask != nullptr) {
            const cv::Mat finished_mask =
                detail::tensorToImage(split ? rows.narrow(1, image_channels, 1) : whole_mask, CV_32FC1, order);
            if (first_row == 0 && finished_mask.rows == height) {
              *mask = finished_mask;
            } else {
              if (first_row == 0) mask->create(height, width, CV_32FC1);
              finished_mask.copyTo(mask->rowRange(first_row, first_row + finished_mask.rows));
            }
          }
          if (first_row == 0 && finished.rows == height) {
            result = finished;  // one tile: no copy
            return;
          }
          if (result.empty()) result.create(height, width, out_type);
          finished.copyTo(result.rowRange(first_row, first_row + finished.rows));
        });
    return result;
  }
};

Engine::Engine() : impl_(std::make_unique<Impl>()) {}

Engine::Engine(const std::string& model_path, const EngineOptions& options) : Engine() {
  options.validate();
  translated([&] {
    auto file = detail::readContainer(model_path);
    impl_->config = detail::configOf(file, model_path);
    if (const std::string* recipe = file.findMeta(detail::kRecipeMeta)) impl_->recipe = *recipe;
    impl_->net = detail::DerainCycleGAN(impl_->config, false);
    detail::loadParameters(*impl_->net, file, model_path, detail::kInferencePrefixes);
    impl_->options = options;
    impl_->trained = true;
    impl_->prepare();
  });
}

Engine Engine::untrained(const ModelConfig& config, uint64_t seed, const EngineOptions& options) {
  options.validate();
  Engine engine;
  engine.impl_->config = config;
  engine.impl_->net = detail::DerainCycleGAN(config, false);
  detail::initWeights(*engine.impl_->net, seed);
  engine.impl_->options = options;
  translated([&] { engine.impl_->prepare(); });
  return engine;
}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

void Engine::derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order) {
  translated([&] {
    const cv::Mat colour = detail::networkColour(src);
    auto& net = impl_->net;
    const cv::Mat out = impl_->run(colour, order, colour.type(),
                                   [&](const at::Tensor& x) { return impl_->finishDerained(x, net->derain(x)); });
    dst = detail::restoreLayout(out, src, order);
  });
}

void Engine::derainWithAttention(const cv::Mat& src, cv::Mat& dst, cv::Mat& mask, ColorOrder order) {
  translated([&] {
    const cv::Mat colour = detail::networkColour(src);
    auto& net = impl_->net;
    cv::Mat attention;
    const cv::Mat out = impl_->run(colour, order, colour.type(), [&](const at::Tensor& x) {
      auto a = net->att->forward(x);
      // As net->derain(x), with the mask kept.
      return TileWithMask{impl_->finishDerained(x, net->g_n->forward(x, a)), a};
    }, &attention);
    dst = detail::restoreLayout(out, src, order);
    mask = attention;
  });
}

void Engine::rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order, const RainmakeOptions& rain) {
  if (rain.mask_noise < 0) throw Error("mask noise must be >= 0");
  translated([&] {
    const cv::Mat colour = detail::networkColour(src);
    auto& net = impl_->net;
    // Rain200A-style: the attention of the real rainy reference, resized to the input, in place of
    // the input's own mask; computed tile by tile on the same tiles as the input.
    cv::Mat reference;
    if (!rain.reference.empty()) {
      reference = detail::networkColour(rain.reference);
      if (reference.size() != colour.size()) {
        const bool shrinking = reference.cols > colour.cols || reference.rows > colour.rows;
        cv::resize(reference, reference, colour.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
      }
      if (reference.type() != colour.type()) {
        // An 8-bit input with a float reference or the other way round: the network sees [0, 1] either way.
        const double scale = reference.depth() == CV_8U ? 1.0 / 255 : 255.0;
        reference.convertTo(reference, colour.type(), scale);
      }
    }
    auto generator = at::make_generator<at::CPUGeneratorImpl>(rain.seed);
    const cv::Mat out = impl_->run(colour, order, colour.type(), [&](const at::Tensor& x, const detail::Span& rows,
                                                                    const detail::Span& cols) {
      auto mask = net->att->forward(reference.empty() ? x : impl_->networkInput(reference, rows, cols, order));
      if (rain.mask_noise > 0) {
        // Noise drawn on the CPU from the seed: the same rain on every device.
        auto noise = torch::randn(mask.sizes(), generator, torch::kFloat32) * rain.mask_noise;
        mask = mask + noise.to(mask.device(), mask.scalar_type());
      }
      return net->g_r->forward(x, mask);
    });
    dst = detail::restoreLayout(out, src, order);
  });
}

void Engine::attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order) {
  translated([&] {
    const cv::Mat colour = detail::networkColour(src);
    auto& net = impl_->net;
    mask = impl_->run(colour, order, CV_32FC1, [&](const at::Tensor& x) { return net->att->forward(x); });
  });
}

void Engine::save(const std::string& path) const {
  translated([&] { detail::writeContainer(path, impl_->inferenceFile()); });
}

const ModelConfig& Engine::config() const { return impl_->config; }
const EngineOptions& Engine::options() const { return impl_->options; }

void Engine::setThreads(int threads) {
  EngineOptions changed = impl_->options;
  changed.threads = threads;
  changed.validate();
  impl_->options = changed;
  impl_->threads = detail::resolveThreads(threads);
}
void Engine::setGreyRain(bool grey_rain) { impl_->options.grey_rain = grey_rain; }
void Engine::setBoundedRain(bool bounded_rain) { impl_->options.bounded_rain = bounded_rain; }
void Engine::setRainStrength(float strength) {
  EngineOptions changed = impl_->options;
  changed.rain_strength = strength;
  changed.validate();  // derain::Error naming the range
  impl_->options.rain_strength = strength;
}

Device Engine::device() const { return impl_->device; }
Precision Engine::precision() const { return impl_->precision; }
bool Engine::trained() const { return impl_->trained; }

std::string Engine::recipe() const { return impl_->recipe; }

std::string Engine::describe() const {
  std::ostringstream out;
  out << "preset " << impl_->config.preset << (impl_->trained ? "" : " (untrained)") << ", device "
      << toString(impl_->device) << ", " << toString(impl_->precision) << ", " << impl_->threads << " thread(s), "
      << detail::countParameters(*impl_->net) << " parameters";
  return out.str();
}

int64_t Engine::macsPerFrame(int width, int height) const {
  return detail::inferenceMacs(impl_->config, width, height);
}

}  // namespace derain
