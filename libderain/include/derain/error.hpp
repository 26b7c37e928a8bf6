// Exceptions thrown by libderain. Every message says what went wrong and, for files, which file.
#pragma once

#include <stdexcept>
#include <string>

#include "derain/export.hpp"

namespace derain {

// Base of everything libderain throws on bad input or misuse.
// Exported, with out-of-line destructors in derain-core, so that every library and plugin shares one
// type identity and `catch (const derain::ModelFileError&)` works across shared-library boundaries.
class DERAIN_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ~Error() override;
};

// A model or checkpoint file that is missing, truncated, corrupt, foreign or of another version.
class DERAIN_API ModelFileError : public Error {
 public:
  ~ModelFileError() override;
  ModelFileError(const std::string& path, const std::string& problem)
      : Error("model file '" + path + "': " + problem), path_(path), problem_(problem) {}
  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

// The requested device or precision is not available in this build or on this machine.
class DERAIN_API DeviceError : public Error {
 public:
  using Error::Error;
  ~DeviceError() override;
};

}  // namespace derain
