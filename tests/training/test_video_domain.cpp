// Training from footage: a video file in a domain folder gives frames sampled over the clip, next to
// the images; an unreadable video is skipped and counted like an unreadable image.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "derain/error.hpp"
#include "training/image_domain.h"
#include "training_test_support.h"

using derain::detail::ImageDomain;
using derain::detail::kFramesPerClip;
using derain::training_test::TempDir;
namespace training_test = derain::training_test;

namespace {

// A lossless clip of `frames` frames whose frame i is a flat grey of level 4 * i (so each decoded
// frame says which one it is), 64x48. Returns false when this OpenCV cannot write one.
bool writeClip(const std::string& path, int frames) {
  cv::VideoWriter writer(path, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25.0, cv::Size(64, 48));
  if (!writer.isOpened()) return false;
  for (int i = 0; i < frames; ++i) writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar::all(4 * i)));
  return true;
}

int levelOf(const cv::Mat& rgb) { return static_cast<int>(cv::mean(rgb)[0] + 0.5); }

}  // namespace

TEST(VideoDomain, ClipFramesAreSampledEvenlyBesideImages) {
  TempDir dir;
  auto files = training_test::writeDomain(dir.file("clean"), 2, 40, false, 3);
  const std::string clip = dir.file("clean/clip.avi");
  if (!writeClip(clip, 2 * kFramesPerClip)) GTEST_SKIP() << "no FFV1 writer in this OpenCV";
  files.push_back(clip);
  ImageDomain domain("clean", files, 32, 2, nullptr);
  ASSERT_EQ(domain.size(), 2u + kFramesPerClip);
  EXPECT_EQ(domain.skipped(), 0);
  // Every second frame of the 64-frame clip, in order, each the right picture.
  for (int k = 0; k < kFramesPerClip; ++k) {
    const size_t index = 2 + k;
    EXPECT_EQ(domain.path(index), clip + "#frame=" + std::to_string(2 * k));
    EXPECT_EQ(domain.imageSize(index), cv::Size(64, 48));
    EXPECT_EQ(levelOf(domain.load(index)), 4 * (2 * k)) << "frame " << 2 * k;
  }
}

TEST(VideoDomain, UncachedFramesAreDecodedAgainOnUse) {
  TempDir dir;
  const std::string clip = dir.file("clip.avi");
  if (!writeClip(clip, 10)) GTEST_SKIP() << "no FFV1 writer in this OpenCV";
  ImageDomain domain("rainy", {clip}, 32, 1, nullptr, /*cache_bytes=*/0);
  ASSERT_EQ(domain.size(), 10u);  // shorter than kFramesPerClip: every frame
  EXPECT_EQ(levelOf(domain.load(7)), 28);
  EXPECT_EQ(levelOf(domain.load(0)), 0);
}

TEST(VideoDomain, UnreadableVideoIsSkippedAndCounted) {
  TempDir dir;
  auto files = training_test::writeDomain(dir.file("rainy"), 2, 40, true, 4);
  { std::ofstream(dir.file("rainy/broken.mp4")) << "not a video at all"; }
  files.push_back(dir.file("rainy/broken.mp4"));
  std::vector<std::string> warnings;
  ImageDomain domain("rainy", files, 32, 2, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(domain.size(), 2u);
  EXPECT_EQ(domain.skipped(), 1);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("broken.mp4"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("video"), std::string::npos) << warnings[0];
}
