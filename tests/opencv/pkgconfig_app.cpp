// A stand-alone application as a user would write it outside the tree: built by
// pkgconfig_build.sh with nothing but `pkg-config --cflags --libs derain`.
// Usage: pkgconfig_app MODEL_PATH (the file is created: an untrained model, to test the plumbing).
#include <iostream>

#include <derain/dnn_derain.hpp>
#include <derain/engine.hpp>
#include <opencv2/core.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODEL_PATH\n";
    return 2;
  }
  derain::Engine::untrained(derain::ModelConfig::lite(), 7).save(argv[1]);

  auto net = cv::dnn_derain::DnnDerainImpl::create();
  net->setPreferableTarget(cv::dnn_derain::TARGET_CPU);
  net->readModel(argv[1]);
  const cv::Mat rainy(20, 24, CV_8UC3, cv::Scalar(40, 90, 200));
  cv::Mat clean;
  net->derain(rainy, clean);
  std::cout << "derained " << clean.cols << "x" << clean.rows << " " << cv::typeToString(clean.type())
            << " preset " << net->getPreset() << "\n";
  try {
    net->setPreferableTarget(99);
  } catch (const cv::Exception&) {
    std::cout << "unknown target rejected\n";
  }
  return 0;
}
