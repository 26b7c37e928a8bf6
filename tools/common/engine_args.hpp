// The inference options every libderain CLI takes (--device, --precision, --threads, --tile-size,
// --tile-overlap), declared and parsed in one place so the tools agree with each other and with the
// GStreamer element's property names. Ranges are engine_options.hpp's.
#pragma once

#include "cli_args.hpp"
#include "derain/engine_options.hpp"

namespace derain::cli {

void addEngineOptions(ArgParser& args);
// Usage error (UsageExit) for an unknown word or a number outside engine_options.hpp's ranges.
EngineOptions engineOptionsFrom(const ArgParser& args);
// A thread-count option: usage error outside [0, kMaxThreads]; a warning on stderr above the
// machine's core count (std::thread::hardware_concurrency), where extra threads only wait.
int threadsOption(const ArgParser& args, const std::string& name = "threads");

}  // namespace derain::cli
