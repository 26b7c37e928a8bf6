// The inference options every libderain CLI takes (--device, --precision, --threads, --tile-size,
// --tile-overlap), declared and parsed in one place so the tools agree with each other and with the
// GStreamer element's property names.
#pragma once

#include "cli_args.hpp"
#include "derain/engine_options.hpp"

namespace derain::cli {

void addEngineOptions(ArgParser& args);
// Usage error (exit kUsageExit) for an unknown word or a negative number.
EngineOptions engineOptionsFrom(const ArgParser& args);

}  // namespace derain::cli
