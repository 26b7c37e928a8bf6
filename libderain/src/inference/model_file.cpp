#include "model_file.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "derain/error.hpp"

namespace derain::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model files are little-endian; add byte swapping");

const std::vector<std::string> kInferencePrefixes{"att.", "g_n.", "g_r."};
const std::vector<std::string> kDiscriminatorPrefixes{"d_n.", "d_r."};

namespace {

constexpr char kMagic[8] = {'D', 'E', 'R', 'A', 'I', 'N', 'v', '\0'};
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + 4 + 8;
constexpr size_t kCrcBytes = 4;
constexpr int64_t kMaxElements = int64_t{1} << 40;  // per tensor: far above any model, far below overflow
constexpr int kMaxDims = 8;

// Stable on-disk dtype codes (never reuse a number).
struct DtypeCode {
  uint8_t code;
  c10::ScalarType type;
};
constexpr std::array<DtypeCode, 9> kDtypes{{{1, c10::kFloat}, {2, c10::kDouble}, {3, c10::kBFloat16},
                                            {4, c10::kHalf}, {5, c10::kLong}, {6, c10::kInt},
                                            {7, c10::kByte}, {8, c10::kChar}, {9, c10::kBool}}};

uint32_t crc32(const char* data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void putString32(std::string& out, const std::string& s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out += s;
}

// Bounds-checked reader over the file bytes: running past the end means a malformed file.
class Reader {
 public:
  Reader(const std::string& bytes, size_t begin, size_t end, const std::string& path)
      : bytes_(bytes), pos_(begin), end_(end), path_(path) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  const char* take(uint64_t n) {
    need(n);
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool atEnd() const { return pos_ == end_; }

 private:
  void need(uint64_t n) {
    if (n > end_ - pos_) throw ModelFileError(path_, "malformed (a record runs past the end of the data)");
  }
  const std::string& bytes_;
  size_t pos_, end_;
  const std::string& path_;
};

c10::ScalarType dtypeFromCode(uint8_t code, const std::string& path, const std::string& name) {
  for (const auto& d : kDtypes)
    if (d.code == code) return d.type;
  throw ModelFileError(path, "tensor '" + name + "' has unknown dtype code " + std::to_string(code));
}

uint8_t codeFromDtype(c10::ScalarType type, const std::string& path, const std::string& name) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.code;
  throw ModelFileError(path, "cannot store tensor '" + name + "' of dtype " + std::string(c10::toString(type)));
}

bool hasPrefix(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

std::string shapeText(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

}  // namespace

const std::string* ContainerFile::findMeta(const std::string& key) const {
  for (const auto& kv : meta)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

const at::Tensor* ContainerFile::findTensor(const std::string& name) const {
  for (const auto& kv : tensors)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

void ContainerFile::setMeta(const std::string& key, const std::string& value) {
  for (auto& kv : meta)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  meta.emplace_back(key, value);
}

void writeContainer(const std::string& path, const ContainerFile& file) {
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kFormatVersion);
  put<uint32_t>(out, static_cast<uint32_t>(file.kind));
  put<uint64_t>(out, 0);  // total size, patched below
  put<uint32_t>(out, static_cast<uint32_t>(file.meta.size()));
  for (const auto& [key, value] : file.meta) {
    putString32(out, key);
    put<uint64_t>(out, value.size());
    out += value;
  }
  put<uint32_t>(out, static_cast<uint32_t>(file.tensors.size()));
  for (const auto& [name, tensor] : file.tensors) {
    at::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    putString32(out, name);
    put<uint8_t>(out, codeFromDtype(t.scalar_type(), path, name));
    put<uint8_t>(out, static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.sizes()) put<int64_t>(out, d);
    const uint64_t nbytes = t.numel() * t.element_size();
    put<uint64_t>(out, nbytes);
    out.append(static_cast<const char*>(t.data_ptr()), nbytes);
  }
  const uint64_t total = out.size() + kCrcBytes;
  std::memcpy(&out[sizeof(kMagic) + 8], &total, sizeof total);
  put<uint32_t>(out, crc32(out.data(), out.size()));

  // Temp file + rename: readers never see a partial file, and a crash keeps the previous one.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw ModelFileError(path, "cannot create '" + tmp + "': " + std::strerror(errno));
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw ModelFileError(path, "write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw ModelFileError(path, "cannot rename temp file into place: " + ec.message());
  }
}

ContainerFile readContainer(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw ModelFileError(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw ModelFileError(path, "is a folder, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelFileError(path, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());

  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    if (bytes.size() < sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, bytes.size()) == 0 && !bytes.empty())
      throw ModelFileError(path, "truncated (" + std::to_string(bytes.size()) + " bytes)");
    throw ModelFileError(path, bytes.empty() ? "empty file" : "not a libderain model file (bad magic bytes)");
  }
  if (bytes.size() < kHeaderBytes)
    throw ModelFileError(path, "truncated (" + std::to_string(bytes.size()) + " bytes, header incomplete)");
  Reader header(bytes, sizeof(kMagic), kHeaderBytes, path);
  const uint32_t version = header.get<uint32_t>();
  const uint32_t kind = header.get<uint32_t>();
  const uint64_t total = header.get<uint64_t>();
  if (version != kFormatVersion)
    throw ModelFileError(path, "format version " + std::to_string(version) + ", but this libderain reads version " +
                                   std::to_string(kFormatVersion));
  if (kind != static_cast<uint32_t>(FileKind::Model) && kind != static_cast<uint32_t>(FileKind::Checkpoint))
    throw ModelFileError(path, "unknown file kind " + std::to_string(kind));
  if (bytes.size() < total)
    throw ModelFileError(path, "truncated (" + std::to_string(bytes.size()) + " of " + std::to_string(total) +
                                   " bytes)");
  if (bytes.size() > total || total < kHeaderBytes + kCrcBytes)
    throw ModelFileError(path, "corrupt (size " + std::to_string(bytes.size()) + " does not match header " +
                                   std::to_string(total) + ")");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + total - kCrcBytes, kCrcBytes);
  if (crc32(bytes.data(), total - kCrcBytes) != stored_crc)
    throw ModelFileError(path, "corrupt (checksum mismatch)");

  ContainerFile file;
  file.kind = static_cast<FileKind>(kind);
  Reader in(bytes, kHeaderBytes, total - kCrcBytes, path);
  const uint32_t meta_count = in.get<uint32_t>();
  for (uint32_t i = 0; i < meta_count; ++i) {
    std::string key = in.bytes(in.get<uint32_t>());
    std::string value = in.bytes(in.get<uint64_t>());
    file.meta.emplace_back(std::move(key), std::move(value));
  }
  const uint32_t tensor_count = in.get<uint32_t>();
  for (uint32_t i = 0; i < tensor_count; ++i) {
    std::string name = in.bytes(in.get<uint32_t>());
    const c10::ScalarType type = dtypeFromCode(in.get<uint8_t>(), path, name);
    const int ndim = in.get<uint8_t>();
    if (ndim > kMaxDims) throw ModelFileError(path, "tensor '" + name + "' has " + std::to_string(ndim) + " dims");
    std::vector<int64_t> sizes(ndim);
    int64_t numel = 1;
    for (auto& d : sizes) {
      d = in.get<int64_t>();
      if (d < 0 || d > kMaxElements) throw ModelFileError(path, "tensor '" + name + "' has a bad shape");
      // Checked before multiplying: the product of the dims must not overflow (found by the fuzzer).
      if (d != 0 && numel > kMaxElements / d)
        throw ModelFileError(path, "tensor '" + name + "' is too large (more than 2^40 elements)");
      numel *= d;
    }
    const uint64_t nbytes = in.get<uint64_t>();
    if (nbytes != static_cast<uint64_t>(numel) * c10::elementSize(type))
      throw ModelFileError(path, "tensor '" + name + "' byte count does not match its shape");
    const char* data = in.take(nbytes);
    at::Tensor t = torch::empty(sizes, torch::TensorOptions().dtype(type));
    if (nbytes) std::memcpy(t.data_ptr(), data, nbytes);
    file.tensors.emplace_back(std::move(name), std::move(t));
  }
  if (!in.atEnd()) throw ModelFileError(path, "malformed (unexpected bytes after the last tensor)");
  return file;
}

ModelConfig configOf(const ContainerFile& file, const std::string& path) {
  const std::string* text = file.findMeta("config");
  if (!text) throw ModelFileError(path, "has no model config");
  try {
    return ModelConfig::fromText(*text);
  } catch (const Error& e) {
    throw ModelFileError(path, std::string("invalid model config: ") + e.what());
  }
}

void loadParameters(torch::nn::Module& module, const ContainerFile& file, const std::string& path,
                    const std::vector<std::string>& prefixes) {
  torch::NoGradGuard no_grad;
  std::set<std::string> expected;
  for (auto& item : module.named_parameters()) {
    if (!hasPrefix(item.key(), prefixes)) continue;
    expected.insert(item.key());
    const at::Tensor* stored = file.findTensor(item.key());
    if (!stored) throw ModelFileError(path, "missing tensor '" + item.key() + "' (file is for another architecture?)");
    at::Tensor& param = item.value();
    if (stored->sizes() != param.sizes())
      throw ModelFileError(path, "tensor '" + item.key() + "' has shape " + shapeText(stored->sizes()) +
                                     ", the model expects " + shapeText(param.sizes()));
    param.copy_(*stored);
  }
  for (const auto& [name, tensor] : file.tensors)
    if (hasPrefix(name, prefixes) && !expected.count(name))
      throw ModelFileError(path, "unexpected tensor '" + name + "' (file is for another architecture?)");
}

void storeParameters(const torch::nn::Module& module, ContainerFile& file,
                     const std::vector<std::string>& prefixes) {
  for (const auto& item : module.named_parameters())
    if (hasPrefix(item.key(), prefixes)) file.tensors.emplace_back(item.key(), item.value().detach());
}

}  // namespace derain::detail
