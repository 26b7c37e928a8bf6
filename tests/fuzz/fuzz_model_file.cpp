// libFuzzer target: the model-file reader (the container format, its config text and the loading
// of U-ARSE / G_N / G_R parameters) on arbitrary bytes. Whatever the input, the reader must either
// return a model or throw derain::ModelFileError: no crash, no sanitizer report, no other exception.
//
// The container ends with a CRC-32 of everything before it, so almost every mutation would stop at
// the checksum. When the first byte of the input is even, the harness rewrites the size field and
// the CRC of the remaining bytes so the fuzzer reaches the parser behind them; odd first bytes test
// the raw bytes (the checks themselves).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "derain/error.hpp"
#include "model_file.h"
#include "networks.h"

namespace {

constexpr size_t kMagicAndHeader = 8 + 4 + 4;  // magic, version, kind; then the u64 total size

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void putLittle(uint8_t* at, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

const std::string& scratchPath() {
  static const std::string path = [] {
    char name[] = "/tmp/derain-fuzz-XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) == 0 && bytes.size() >= kMagicAndHeader + 8 + 4) {
    putLittle(bytes.data() + kMagicAndHeader, bytes.size(), 8);
    putLittle(bytes.data() + bytes.size() - 4, crc32(bytes.data(), bytes.size() - 4), 4);
  }
  const std::string& path = scratchPath();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  } else {
    std::abort();
  }
  try {
    auto file = derain::detail::readContainer(path);
    const auto config = derain::detail::configOf(file, path);
    // Only architectures small enough to build quickly: the fuzzer tests the reader, not the
    // allocator on a multi-gigabyte network.
    if (config.attention.channels <= 32 && config.generator.channels <= 32 && config.attention.blocks <= 8 &&
        config.attention.stages <= 8 && config.generator.dilations.size() <= 8) {
      derain::detail::DerainCycleGAN net(config, false);
      derain::detail::loadParameters(*net, file, path, derain::detail::kInferencePrefixes);
    }
  } catch (const derain::ModelFileError&) {
  }
  return 0;
}
