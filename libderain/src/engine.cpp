#include "derain/engine.hpp"

#include <sstream>

#include <torch/torch.h>

#include "derain/error.hpp"
#include "model_file.h"
#include "networks.h"
#include "runtime.h"
#include "tensor_image.h"
#include "tiling.h"

namespace derain {

namespace {
constexpr int kMinTileSize = 16;  // below this a tile holds mostly padding and overlap

void validateOptions(const EngineOptions& o) {
  if (o.threads < 0) throw Error("threads must be >= 0 (0 = every core), got " + std::to_string(o.threads));
  if (o.tile_overlap < 0) throw Error("tile-overlap must be >= 0, got " + std::to_string(o.tile_overlap));
  if (o.tile_size != 0 && o.tile_size < kMinTileSize)
    throw Error("tile-size must be 0 (auto) or >= " + std::to_string(kMinTileSize) + ", got " +
                std::to_string(o.tile_size));
  if (o.tile_size != 0 && 2 * o.tile_overlap >= o.tile_size)
    throw Error("tile-overlap (" + std::to_string(o.tile_overlap) + ") must be less than half of tile-size (" +
                std::to_string(o.tile_size) + ")");
}
}  // namespace

struct Engine::Impl {
  ModelConfig config;
  EngineOptions options;
  Device device = Device::CPU;
  Precision precision = Precision::FP32;
  int threads = 1;
  bool trained = false;
  detail::DerainCycleGAN net{nullptr};
  // fp32 CPU copy of the weights, kept only when the network itself is converted to bf16, so that
  // save() still writes the exact weights; otherwise save() reads them from the network.
  detail::ContainerFile bf16_master;

  void prepare() {
    detail::tuneAllocator();
    device = detail::resolveDevice(options.device);
    precision = detail::resolvePrecision(options.precision, device);
    threads = detail::resolveThreads(options.threads);
    detail::applyThreads(threads);
    if (precision == Precision::BF16) bf16_master = inferenceFile();
    net->eval();
    net->to(detail::torchDevice(device), detail::torchDtype(precision));
    detail::toChannelsLast(*net);
  }

  // The inference model file of this engine: config plus U-ARSE / G_N / G_R weights in fp32.
  detail::ContainerFile inferenceFile() const {
    if (!bf16_master.tensors.empty()) return bf16_master;
    detail::ContainerFile file;
    file.kind = detail::FileKind::Model;
    file.setMeta("config", config.toText());
    for (const auto& item : net->named_parameters())
      file.tensors.emplace_back(item.key(), item.value().detach().to(torch::kCPU, torch::kFloat32).clone());
    return file;
  }

  int tileSize(int width, int height) const {
    if (options.tile_size > 0) return options.tile_size;
    return int64_t{width} * height > kAutoTileMaxPixels ? kAutoTileSize : std::max(width, height);
  }

  // Runs `forward` (device tensor in the engine's dtype -> output) on a CPU [-1, 1] image,
  // tile by tile when needed, and returns CPU float.
  template <typename Forward>
  at::Tensor run(const at::Tensor& image, Forward&& forward) {
    detail::applyThreads(threads);
    c10::InferenceMode inference;
    const int height = static_cast<int>(image.size(2)), width = static_cast<int>(image.size(3));
    const auto target = detail::torchDevice(device);
    const auto dtype = detail::torchDtype(precision);
    return detail::processTiled(image, tileSize(width, height), options.tile_overlap, [&](const at::Tensor& piece) {
      // Padded while still fp32 on the CPU: LibTorch 1.13 has no bf16 replication pad on CPU.
      auto padded = detail::padToMultiple(piece, config.sizeMultiple())
                        .to(target, dtype)
                        .contiguous(at::MemoryFormat::ChannelsLast);
      auto out = forward(padded);
      return out.narrow(2, 0, piece.size(2)).narrow(3, 0, piece.size(3)).to(torch::kCPU, torch::kFloat32);
    });
  }
};

Engine::Engine() : impl_(std::make_unique<Impl>()) {}

Engine::Engine(const std::string& model_path, const EngineOptions& options) : Engine() {
  validateOptions(options);
  auto file = detail::readContainer(model_path);
  impl_->config = detail::configOf(file, model_path);
  impl_->net = detail::DerainCycleGAN(impl_->config, false);
  detail::loadParameters(*impl_->net, file, model_path, detail::kInferencePrefixes);
  impl_->options = options;
  impl_->trained = true;
  impl_->prepare();
}

Engine Engine::untrained(const ModelConfig& config, uint64_t seed, const EngineOptions& options) {
  validateOptions(options);
  Engine engine;
  engine.impl_->config = config;
  engine.impl_->net = detail::DerainCycleGAN(config, false);
  detail::initWeights(*engine.impl_->net, seed);
  engine.impl_->options = options;
  engine.impl_->prepare();
  return engine;
}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

void Engine::derain(const cv::Mat& src, cv::Mat& dst, ColorOrder order) {
  const int type = src.type();
  auto image = detail::imageToTensor(src, order);
  auto& net = impl_->net;
  auto out = impl_->run(image, [&](const at::Tensor& x) { return net->derain(x); });
  dst = detail::tensorToImage(out, type, order);
}

void Engine::rainmake(const cv::Mat& src, cv::Mat& dst, ColorOrder order, const RainmakeOptions& rain) {
  if (rain.mask_noise < 0) throw Error("mask noise must be >= 0");
  const int type = src.type();
  auto image = detail::imageToTensor(src, order);
  auto& net = impl_->net;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(rain.seed);
  auto out = impl_->run(image, [&](const at::Tensor& x) {
    auto mask = net->att->forward(x);
    if (rain.mask_noise > 0) {
      // Noise drawn on the CPU from the seed: the same rain on every device.
      auto noise = torch::randn(mask.sizes(), generator, torch::kFloat32) * rain.mask_noise;
      mask = mask + noise.to(mask.device(), mask.scalar_type());
    }
    return net->g_r->forward(x, mask);
  });
  dst = detail::tensorToImage(out, type, order);
}

void Engine::attention(const cv::Mat& src, cv::Mat& mask, ColorOrder order) {
  auto image = detail::imageToTensor(src, order);
  auto& net = impl_->net;
  auto out = impl_->run(image, [&](const at::Tensor& x) { return net->att->forward(x); });
  mask = detail::tensorToImage(out, CV_32FC1, order);
}

void Engine::save(const std::string& path) const { detail::writeContainer(path, impl_->inferenceFile()); }

const ModelConfig& Engine::config() const { return impl_->config; }
const EngineOptions& Engine::options() const { return impl_->options; }
Device Engine::device() const { return impl_->device; }
Precision Engine::precision() const { return impl_->precision; }
bool Engine::trained() const { return impl_->trained; }

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
