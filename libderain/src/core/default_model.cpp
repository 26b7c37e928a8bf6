#include "derain/default_model.hpp"

#include <cstdlib>
#include <filesystem>

#ifndef DERAIN_MODELS_DIR
#define DERAIN_MODELS_DIR ""
#endif

namespace derain {

namespace {
constexpr const char* kDefaultModelName = "default.derain";  // file name of the shipped model
constexpr const char* kModelEnv = "DERAIN_MODEL";             // a model file that overrides the default
constexpr const char* kModelDirEnv = "DERAIN_MODEL_DIR";      // a folder searched before the installed one
}  // namespace

std::string defaultModelPath() {
  if (const char* env = std::getenv(kModelEnv); env && *env) return env;
  const char* env_dir = std::getenv(kModelDirEnv);
  for (const char* dir : {env_dir ? env_dir : "", DERAIN_MODELS_DIR}) {
    if (!*dir) continue;
    std::error_code ec;
    const std::filesystem::path candidate = std::filesystem::path(dir) / kDefaultModelName;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

}  // namespace derain
