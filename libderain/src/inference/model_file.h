// libderain's file container, used for inference model files and training checkpoints alike:
//
//   "DERAINv\0" magic (8 bytes) | u32 format version | u32 kind (1 model, 2 checkpoint)
//   u64 total file size (tells a truncated file from a corrupt one)
//   u32 meta count, then per entry: u32 key length, key, u64 value length, value
//   u32 tensor count, then per tensor: u32 name length, name, u8 dtype, u8 ndim, i64 dims[ndim],
//                                      u64 byte count, raw little-endian bytes
//   u32 CRC-32 of every byte before it
//
// Meta always holds "config" (ModelConfig::toText()); model files from the trainer also "recipe". Tensors are stored bit-exactly in their own
// dtype, so save -> load is a bitwise round trip. Writes go to a temp file renamed into place, so a
// crash never leaves a half-written file under the real name.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "derain/config.hpp"

namespace derain::detail {

constexpr uint32_t kFormatVersion = 1;

// Meta key of a model file's training recipe: one line naming the objective and its settings,
// written by the trainer (training/README.md), read by Engine::recipe(). Older files lack it.
constexpr const char* kRecipeMeta = "recipe";

enum class FileKind : uint32_t { Model = 1, Checkpoint = 2 };

struct ContainerFile {
  FileKind kind = FileKind::Model;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<std::pair<std::string, at::Tensor>> tensors;

  // nullptr when absent.
  const std::string* findMeta(const std::string& key) const;
  const at::Tensor* findTensor(const std::string& name) const;
  void setMeta(const std::string& key, const std::string& value);
};

// Throws ModelFileError (naming path) on any I/O failure.
void writeContainer(const std::string& path, const ContainerFile& file);
// Throws ModelFileError naming the path and the problem: missing, unreadable, not a libderain file,
// wrong version, truncated, corrupt (CRC), malformed.
ContainerFile readContainer(const std::string& path);

// The model config stored in a container; ModelFileError if absent or invalid.
ModelConfig configOf(const ContainerFile& file, const std::string& path);

// Copies every parameter of `module` whose name starts with one of `prefixes` from `file`'s tensors.
// ModelFileError if one is missing or has the wrong shape, or if the file holds a tensor under one
// of those prefixes that the module lacks (a file for another architecture).
void loadParameters(torch::nn::Module& module, const ContainerFile& file, const std::string& path,
                    const std::vector<std::string>& prefixes);
// Appends every parameter of `module` whose name starts with one of `prefixes` to `file`.
void storeParameters(const torch::nn::Module& module, ContainerFile& file,
                     const std::vector<std::string>& prefixes);

// The inference parts of a DerainCycleGAN: U-ARSE, G_N, G_R.
extern const std::vector<std::string> kInferencePrefixes;  // {"att.", "g_n.", "g_r."}
extern const std::vector<std::string> kDiscriminatorPrefixes;  // {"d_n.", "d_r."}

}  // namespace derain::detail
