#include "test_support.h"

#include <cmath>
#include <random>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "model_file.h"
#include "networks.h"

namespace derain::test {

TempDir::TempDir() {
  static int counter = 0;
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("derain-test-" + std::to_string(rd()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

cv::Mat makeRainyScene(int width, int height, uint64_t seed) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(40 + 150 * x / std::max(1, width)),
                                            static_cast<uchar>(60 + 120 * y / std::max(1, height)),
                                            static_cast<uchar>(128 + 100 * std::sin(0.07 * (x + 2 * y))));
  cv::rectangle(image, cv::Rect(width / 4, height / 3, width / 3, height / 4), cv::Scalar(30, 200, 90), cv::FILLED);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> px(0, std::max(0, width - 1)), py(0, std::max(0, height - 1));
  const int streaks = std::max(1, width * height / 150);
  for (int i = 0; i < streaks; ++i) {
    cv::Point a(px(rng), py(rng));
    cv::line(image, a, a + cv::Point(3, 12), cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
  }
  return image;
}

void writeHeScaledModel(const std::string& path, const ModelConfig& config, uint64_t seed) {
  detail::DerainCycleGAN net(config, false);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& p : net->parameters()) {
    if (p.dim() == 4) {
      const double fan_in = static_cast<double>(p.size(1) * p.size(2) * p.size(3));
      p.copy_(torch::empty(p.sizes()).normal_(0.0, std::sqrt(2.0 / fan_in), gen));
    } else {
      p.copy_(torch::empty(p.sizes()).normal_(0.0, 0.05, gen));
    }
  }
  detail::ContainerFile file;
  file.setMeta("config", config.toText());
  detail::storeParameters(*net, file, detail::kInferencePrefixes);
  detail::writeContainer(path, file);
}

ModelConfig tinyConfig() {
  ModelConfig c = ModelConfig::lite();
  c.attention.stages = 2;
  c.attention.channels = 8;
  c.attention.scale = 2;
  c.generator.channels = 8;
  c.generator.dilations = {2, 4};
  c.discriminator.channels = 8;
  c.discriminator.scales = 2;
  c.preset = "custom";
  return c;
}

}  // namespace derain::test
