// Exceptions thrown by libderain. Every message says what went wrong and, for files, which file.
#pragma once

#include <stdexcept>
#include <string>

namespace derain {

// Base of everything libderain throws on bad input or misuse.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model or checkpoint file that is missing, truncated, corrupt, foreign or of another version.
class ModelFileError : public Error {
 public:
  ModelFileError(const std::string& path, const std::string& problem)
      : Error("model file '" + path + "': " + problem), path_(path), problem_(problem) {}
  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

// The requested device or precision is not available in this build or on this machine.
class DeviceError : public Error {
 public:
  using Error::Error;
};

}  // namespace derain
