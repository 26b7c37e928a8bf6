// The first three convolution blocks of VGG16 (torchvision's `features[0:16]`, up to relu3_3), the
// frozen feature extractor of the perceptual loss. Parameter names are torchvision's
// ("features.0.weight", ..., "features.14.bias"), so a torchvision state dict maps onto it 1:1.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace derain::detail {

// What the weights file says it holds (meta "content"), checked on load.
constexpr const char* kVGG16FeaturesContent = "vgg16-features";

class VGG16FeaturesImpl : public torch::nn::Module {
 public:
  VGG16FeaturesImpl();
  // x: N x 3 x H x W, RGB already normalised the ImageNet way. Returns {relu2_2, relu3_3}.
  std::vector<torch::Tensor> forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};   // keeps torchvision's indices in the parameter names
  std::vector<torch::nn::Conv2d> convs_;      // the seven convs of features_, in order
};
TORCH_MODULE(VGG16Features);

// Loads a VGG16 features weights file (libderain container, meta content = "vgg16-features",
// float32 tensors "features.<i>.weight|bias" for i in {0, 2, 5, 7, 10, 12, 14}; further VGG16
// tensors are ignored). Returns the module frozen (no gradients, eval mode). Throws ModelFileError
// naming the file for anything missing or misshapen.
VGG16Features loadVGG16Features(const std::string& path);

// Writes `features`' parameters in that format (used by the tests and for re-exporting).
void saveVGG16Features(const VGG16Features& features, const std::string& path);

}  // namespace derain::detail
