#include "training/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "derain/error.hpp"

namespace derain::detail {

namespace fs = std::filesystem;

void replaceFileAtomically(const std::string& path, const std::function<void(const std::string& temp)>& write) {
  const fs::path p(path);
  const std::string temp =
      (p.parent_path() / ("." + p.filename().string() + ".part-" + std::to_string(::getpid()) + p.extension().string()))
          .string();
  std::error_code ec;
  try {
    write(temp);
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw Error("cannot write '" + path + "': " + ec.message());
  }
}

void writeTextAtomically(const std::string& path, const std::string& text) {
  replaceFileAtomically(path, [&](const std::string& temp) {
    std::FILE* f = std::fopen(temp.c_str(), "wb");
    if (!f) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                    ::fsync(fileno(f)) == 0;
    const int err = errno;
    if (std::fclose(f) != 0 || !ok) throw Error("cannot write '" + path + "': " + std::strerror(ok ? errno : err));
  });
}

}  // namespace derain::detail
