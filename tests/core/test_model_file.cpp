// Model files: bitwise round trips and a clear error for every kind of bad file.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include <torch/torch.h>

#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "model_file.h"
#include "networks.h"
#include "test_support.h"

using derain::Engine;
using derain::ModelFileError;
using derain::test::TempDir;

namespace {
std::string readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The ModelFileError message of loading `path`, or "no error".
std::string loadError(const std::string& path) {
  try {
    Engine engine(path, derain::EngineOptions{derain::Device::CPU});
  } catch (const ModelFileError& e) {
    EXPECT_EQ(e.path(), path);
    return e.what();
  }
  return "no error";
}

std::string savedModel(const TempDir& dir) {
  const std::string path = dir.file("model.derain");
  Engine::untrained(derain::test::tinyConfig(), 5).save(path);
  return path;
}
}  // namespace

TEST(ModelFile, SaveLoadIsABitwiseRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("a.derain");
  Engine original = Engine::untrained(derain::test::tinyConfig(), 11);
  original.save(path);

  Engine loaded(path);
  EXPECT_EQ(loaded.config(), original.config());
  EXPECT_TRUE(loaded.trained());
  // Saving the loaded model reproduces the file byte for byte.
  const std::string again = dir.file("b.derain");
  loaded.save(again);
  EXPECT_EQ(readBytes(path), readBytes(again));

  // And the weights equal freshly initialised ones with the same seed exactly.
  derain::detail::DerainCycleGAN net(derain::test::tinyConfig(), false);
  derain::detail::initWeights(*net, 11);
  auto file = derain::detail::readContainer(path);
  for (const auto& item : net->named_parameters()) {
    const at::Tensor* stored = file.findTensor(item.key());
    ASSERT_NE(stored, nullptr) << item.key();
    EXPECT_TRUE(torch::equal(*stored, item.value())) << item.key();
  }
  cv::Mat image = derain::test::makeRainyScene(40, 28, 1), out_a, out_b;
  original.derain(image, out_a);
  loaded.derain(image, out_b);
  EXPECT_EQ(cv::norm(out_a, out_b, cv::NORM_INF), 0.0);
}

TEST(ModelFile, ContainerKeepsMetaAndEveryDtype) {
  TempDir dir;
  derain::detail::ContainerFile file;
  file.kind = derain::detail::FileKind::Checkpoint;
  file.setMeta("config", derain::ModelConfig::lite().toText());
  file.setMeta("step", "1234");
  file.tensors.emplace_back("f", torch::arange(6, torch::kFloat32).reshape({2, 3}) / 7);
  file.tensors.emplace_back("l", torch::tensor({int64_t{-5}, int64_t{1} << 40}));
  file.tensors.emplace_back("b", torch::tensor({1.5f, -2.25f}).to(torch::kBFloat16));
  file.tensors.emplace_back("u", torch::tensor({0, 255}).to(torch::kUInt8));
  file.tensors.emplace_back("empty", torch::empty({0, 4}));
  derain::detail::writeContainer(dir.file("c"), file);
  auto back = derain::detail::readContainer(dir.file("c"));
  EXPECT_EQ(back.kind, derain::detail::FileKind::Checkpoint);
  EXPECT_EQ(*back.findMeta("step"), "1234");
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].first, file.tensors[i].first);
    EXPECT_EQ(back.tensors[i].second.scalar_type(), file.tensors[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(back.tensors[i].second, file.tensors[i].second)) << file.tensors[i].first;
  }
}

TEST(ModelFile, MissingFile) {
  TempDir dir;
  EXPECT_NE(loadError(dir.file("nope.derain")).find("no such file"), std::string::npos);
}

TEST(ModelFile, FolderInsteadOfFile) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("folder"));
  EXPECT_NE(loadError(dir.file("folder")).find("is a folder"), std::string::npos);
}

TEST(ModelFile, EmptyFile) {
  TempDir dir;
  writeBytes(dir.file("empty"), "");
  EXPECT_NE(loadError(dir.file("empty")).find("empty file"), std::string::npos);
}

TEST(ModelFile, ForeignFile) {
  TempDir dir;
  writeBytes(dir.file("image.png"), std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x'));
  EXPECT_NE(loadError(dir.file("image.png")).find("not a libderain model file"), std::string::npos);
}

TEST(ModelFile, TruncatedAtEveryRegion) {
  TempDir dir;
  const std::string bytes = readBytes(savedModel(dir));
  for (size_t keep : {size_t{5}, size_t{12}, size_t{30}, bytes.size() / 2, bytes.size() - 1}) {
    writeBytes(dir.file("cut"), bytes.substr(0, keep));
    EXPECT_NE(loadError(dir.file("cut")).find("truncated"), std::string::npos) << "kept " << keep;
  }
}

TEST(ModelFile, FlippedByteIsCorrupt) {
  TempDir dir;
  std::string bytes = readBytes(savedModel(dir));
  bytes[bytes.size() / 2] ^= 0x10;
  writeBytes(dir.file("bad"), bytes);
  EXPECT_NE(loadError(dir.file("bad")).find("checksum"), std::string::npos);
}

TEST(ModelFile, TrailingGarbageIsCorrupt) {
  TempDir dir;
  writeBytes(dir.file("long"), readBytes(savedModel(dir)) + "extra");
  EXPECT_NE(loadError(dir.file("long")).find("corrupt"), std::string::npos);
}

TEST(ModelFile, WrongVersion) {
  TempDir dir;
  std::string bytes = readBytes(savedModel(dir));
  const uint32_t future = derain::detail::kFormatVersion + 1;
  std::memcpy(&bytes[8], &future, 4);
  writeBytes(dir.file("v2"), bytes);
  const std::string message = loadError(dir.file("v2"));
  EXPECT_NE(message.find("format version " + std::to_string(future)), std::string::npos) << message;
}

TEST(ModelFile, WeightsOfAnotherArchitecture) {
  TempDir dir;
  // A file whose config says tiny but whose tensors come from lite: shapes disagree.
  derain::detail::DerainCycleGAN lite(derain::ModelConfig::lite(), false);
  derain::detail::ContainerFile file;
  file.setMeta("config", derain::test::tinyConfig().toText());
  derain::detail::storeParameters(*lite, file, derain::detail::kInferencePrefixes);
  derain::detail::writeContainer(dir.file("mixed"), file);
  const std::string message = loadError(dir.file("mixed"));
  EXPECT_NE(message.find("has shape"), std::string::npos) << message;

  // A file that lacks G_R entirely.
  derain::detail::ContainerFile partial;
  partial.setMeta("config", derain::ModelConfig::lite().toText());
  derain::detail::storeParameters(*lite, partial, {"att.", "g_n."});
  derain::detail::writeContainer(dir.file("partial"), partial);
  EXPECT_NE(loadError(dir.file("partial")).find("missing tensor 'g_r."), std::string::npos);
}

TEST(ModelFile, MissingOrBadConfig) {
  TempDir dir;
  derain::detail::ContainerFile file;
  derain::detail::writeContainer(dir.file("noconfig"), file);
  EXPECT_NE(loadError(dir.file("noconfig")).find("no model config"), std::string::npos);
  file.setMeta("config", "attention.stages = -3\n");
  derain::detail::writeContainer(dir.file("badconfig"), file);
  EXPECT_NE(loadError(dir.file("badconfig")).find("invalid model config"), std::string::npos);
}

TEST(ModelFile, SaveIntoMissingFolderFailsClearlyAndLeavesNothing) {
  TempDir dir;
  Engine engine = Engine::untrained(derain::test::tinyConfig(), 1);
  EXPECT_THROW(engine.save(dir.file("no/such/folder/m.derain")), ModelFileError);
  // Overwriting keeps a valid file at every moment: the old one until the rename.
  const std::string path = savedModel(dir);
  Engine::untrained(derain::test::tinyConfig(), 2).save(path);
  EXPECT_NO_THROW(Engine{path});
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.file(""))) ++files;
  EXPECT_EQ(files, 1u);  // no temp files left behind
}
