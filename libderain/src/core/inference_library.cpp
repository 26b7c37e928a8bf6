// The lazy loader of the inference library (see inference_library.hpp): dlopen on first use, then
// one C entry point that hands out the library's InferenceLibrary object.
#include "derain/inference_library.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "derain/error.hpp"

#ifndef DERAIN_INFERENCE_SONAME
#define DERAIN_INFERENCE_SONAME "libderain.so.0"
#endif

namespace derain {

namespace {
constexpr const char* kLibraryEnv = "DERAIN_INFERENCE_LIBRARY";   // explicit path, for unusual layouts
constexpr const char* kEntryPoint = "derain_inference_library_v1";  // defined in shared_engines.cpp

std::atomic<InferenceLibrary*> loaded{nullptr};

// Folder of derain-core itself: the inference library is installed (and built) beside it.
std::string ownFolder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&inferenceLibraryLoaded), &info) == 0 || info.dli_fname == nullptr) return "";
  const std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

InferenceLibrary* open() {
  std::string tried;
  void* handle = nullptr;
  auto attempt = [&](const std::string& name) {
    if (handle || name.empty()) return;
    // RTLD_LOCAL: LibTorch's symbols stay out of the host's global namespace.
    handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  };
  if (const char* env = std::getenv(kLibraryEnv); env && *env) {
    attempt(env);
  } else {
    attempt(ownFolder() + DERAIN_INFERENCE_SONAME);
    attempt(DERAIN_INFERENCE_SONAME);
  }
  if (!handle) throw Error("cannot load libderain's inference library (" + tried + ")");
  using Entry = InferenceLibrary* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, kEntryPoint));
  if (!entry) throw Error(std::string("libderain's inference library has no entry point ") + kEntryPoint +
                          " (a different version of libderain?)");
  // Never dlclose'd: LibTorch does not support being unloaded.
  return entry();
}
}  // namespace

InferenceLibrary& inferenceLibrary() {
  static std::mutex mutex;
  if (auto* library = loaded.load()) return *library;
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded.load()) loaded.store(open());
  return *loaded.load();
}

bool inferenceLibraryLoaded() { return loaded.load() != nullptr; }

}  // namespace derain
