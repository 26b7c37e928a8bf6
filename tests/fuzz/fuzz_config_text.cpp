// libFuzzer target: the model-config text parser (ModelConfig::fromText, the "key = value" format
// stored in every model file and accepted from config files). Any input either parses to a config
// that validates and survives a toText() round trip, or throws derain::Error.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "derain/config.hpp"
#include "derain/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  derain::ModelConfig config;
  try {
    config = derain::ModelConfig::fromText(text);
  } catch (const derain::Error&) {
    return 0;
  }
  config.validate();  // fromText promised a valid config: a throw here is a bug the fuzzer reports
  if (derain::ModelConfig::fromText(config.toText()) != config) std::abort();
  return 0;
}
