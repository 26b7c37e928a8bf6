#include "engine_args.hpp"

#include "derain/error.hpp"

namespace derain::cli {

void addEngineOptions(ArgParser& args) {
  const EngineOptions defaults;
  args.option("device", "NAME", "auto, cpu or cuda", toString(defaults.device));
  args.option("precision", "NAME", "fp32, bf16 or auto (bf16 where the hardware has it)",
              toString(defaults.precision));
  args.option("threads", "N", "CPU inference threads, 0 = every core", std::to_string(defaults.threads));
  args.option("tile-size", "PIXELS", "process frames in tiles of this side, 0 = automatic",
              std::to_string(defaults.tile_size));
  args.option("tile-overlap", "PIXELS", "pixels shared by neighbouring tiles", std::to_string(defaults.tile_overlap));
}

EngineOptions engineOptionsFrom(const ArgParser& args) {
  EngineOptions options;
  try {
    options.device = parseDevice(args.get("device"));
    options.precision = parsePrecision(args.get("precision"));
  } catch (const Error& e) {
    args.fail(e.what());
  }
  options.threads = args.getInt("threads");
  options.tile_size = args.getInt("tile-size");
  options.tile_overlap = args.getInt("tile-overlap");
  if (options.threads < 0) args.fail("--threads must be >= 0");
  if (options.tile_size < 0) args.fail("--tile-size must be >= 0");
  if (options.tile_overlap < 0) args.fail("--tile-overlap must be >= 0");
  return options;
}

}  // namespace derain::cli
