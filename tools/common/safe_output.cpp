#include "safe_output.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "derain/error.hpp"

namespace derain::cli {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned> g_counter{0};

fs::path normalised(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  // "a/b/" and "a/b" are the same folder.
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  return p;
}

// Whether `inner` is `outer` or lies below it (component-wise, so /a/bc is not inside /a/b).
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

}  // namespace

PendingFile::PendingFile(std::string path) : path_(std::move(path)) {
  const fs::path p(path_);
  temp_ = (p.parent_path() / ("." + p.filename().string() + ".part-" + std::to_string(::getpid()) + "-" +
                              std::to_string(g_counter++) + p.extension().string()))
              .string();
}

PendingFile::~PendingFile() {
  if (!done_) discard();
}

void PendingFile::commit() {
  std::error_code ec;
  if (!fs::exists(temp_, ec)) {
    done_ = true;
    throw Error("cannot write '" + path_ + "': nothing was written");
  }
  fs::rename(temp_, path_, ec);
  if (ec) {
    discard();
    throw Error("cannot write '" + path_ + "': " + ec.message());
  }
  done_ = true;
}

void PendingFile::discard() {
  std::error_code ec;
  fs::remove(temp_, ec);
  done_ = true;
}

bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool same = fs::equivalent(a, b, ec);
    if (!ec) return same;
  }
  return normalised(a) == normalised(b);
}

void refuseSameFile(const std::string& input, const std::string& output) {
  if (sameFile(input, output))
    throw Error("refusing to write '" + output + "': it is the input '" + input + "' (choose another output)");
}

void refuseNestedFolders(const std::string& input_dir, const std::string& input_label, const std::string& output_dir,
                         const std::string& output_label) {
  const fs::path in = normalised(input_dir), out = normalised(output_dir);
  std::string how;
  if (sameFile(input_dir, output_dir) || in == out)
    how = "is";
  else if (within(out, in))
    how = "is inside";
  else if (within(in, out))
    how = "contains";
  if (!how.empty())
    throw Error("refusing to write into " + output_label + " '" + output_dir + "': it " + how + " the input folder " +
                input_label + " '" + input_dir + "' (choose a separate output folder)");
}

bool liesWithin(const std::string& path, const std::string& folder) {
  const fs::path inner = normalised(path), outer = normalised(folder);
  return inner != outer && within(inner, outer);
}

void checkWritableOutput(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error("cannot write '" + path + "': it is a folder (give a file name)");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::exists(dir, ec)) throw Error("cannot write '" + path + "': folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw Error("cannot write '" + path + "': '" + dir.string() + "' is not a folder");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error("cannot write '" + path + "': folder '" + dir.string() + "' is not writable (" +
                std::strerror(errno) + ")");
}

}  // namespace derain::cli
