// Declarations only: Debian's libtorch-dev installs torch/csrc/distributed/c10d/ProcessGroupGloo.hpp
// without the gloo headers it includes (libgloo0 has no -dev package). These declare exactly the
// gloo names that header mentions, matching gloo's own declarations; libderain never creates or
// calls a gloo object itself (libtorch_cpu does). Used only when <gloo/context.h> is not installed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gloo {
namespace rendezvous {

class Store {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout = std::chrono::seconds(30);
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
};

}  // namespace rendezvous
}  // namespace gloo
