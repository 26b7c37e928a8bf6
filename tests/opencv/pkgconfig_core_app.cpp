// An application that only synthesises rain, built out of the tree by pkgconfig_build.sh with
// nothing but `pkg-config --cflags --libs derain-core`: it must run without LibTorch.
// Prints the number of rained pixels of a grey 64x48 image (a fixed seed, so a fixed count).
#include <iostream>

#include <derain/core.hpp>
#include <opencv2/core.hpp>

int main() {
  const cv::Mat clean(48, 64, CV_8UC3, cv::Scalar::all(60));
  derain::RainParams rain;
  rain.density = 0.1;
  rain.seed = 5;
  cv::Mat rainy;
  derain::addRain(clean, rainy, rain);
  cv::Mat changed;
  cv::compare(rainy.reshape(1), clean.reshape(1), changed, cv::CMP_NE);
  std::cout << "rained pixels " << cv::countNonZero(changed) / 3 << "\n";
  std::cout << "inference loaded " << derain::inferenceLibraryLoaded() << "\n";
  return 0;
}
