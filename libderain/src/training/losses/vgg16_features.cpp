#include "losses/vgg16_features.h"

#include <torch/torch.h>

#include "derain/error.hpp"
#include "model_file.h"

namespace derain::detail {

namespace {
// VGG16 "D" configuration through block 3: output channels of each conv, 0 = 2x2 max pool.
const std::vector<int> kLayout = {64, 64, 0, 128, 128, 0, 256, 256, 256};
constexpr int kRelu22Conv = 3;  // index in convs_ of conv2_2, whose ReLU output is relu2_2

std::string shapeText(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}
}  // namespace

VGG16FeaturesImpl::VGG16FeaturesImpl() {
  features_ = torch::nn::Sequential();
  int in = 3;
  for (int out : kLayout) {
    if (out == 0) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, out, 3).padding(1));
    features_->push_back(conv);
    features_->push_back(torch::nn::ReLU());
    convs_.push_back(conv);
    in = out;
  }
  register_module("features", features_);
}

std::vector<torch::Tensor> VGG16FeaturesImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> out;
  torch::Tensor h = x;
  for (size_t i = 0; i < convs_.size(); ++i) {
    if (i == 2 || i == 4) h = torch::max_pool2d(h, 2, 2);  // pools follow conv1_2 and conv2_2
    h = torch::relu(convs_[i]->forward(h));
    if (static_cast<int>(i) == kRelu22Conv) out.push_back(h);
  }
  out.push_back(h);
  return out;
}

VGG16Features loadVGG16Features(const std::string& path) {
  ContainerFile file = readContainer(path);
  const std::string* content = file.findMeta("content");
  if (!content || *content != kVGG16FeaturesContent)
    throw ModelFileError(path, std::string("not a VGG16 features weights file (meta 'content' must be '") +
                                   kVGG16FeaturesContent + "')");
  VGG16Features vgg;
  torch::NoGradGuard no_grad;
  for (auto& item : vgg->named_parameters()) {
    const at::Tensor* stored = file.findTensor(item.key());
    if (!stored) throw ModelFileError(path, "tensor '" + item.key() + "' is missing");
    if (stored->sizes() != item.value().sizes())
      throw ModelFileError(path, "tensor '" + item.key() + "' has shape " + shapeText(stored->sizes()) +
                                     ", expected " + shapeText(item.value().sizes()));
    if (!stored->is_floating_point())
      throw ModelFileError(path, "tensor '" + item.key() + "' is not floating point");
    item.value().copy_(*stored);
  }
  for (auto& p : vgg->parameters()) p.set_requires_grad(false);
  vgg->eval();
  return vgg;
}

void saveVGG16Features(const VGG16Features& features, const std::string& path) {
  ContainerFile file;
  file.kind = FileKind::Model;
  file.setMeta("content", kVGG16FeaturesContent);
  for (const auto& item : features->named_parameters())
    file.tensors.emplace_back(item.key(), item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous());
  writeContainer(path, file);
}

}  // namespace derain::detail
