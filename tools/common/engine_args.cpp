#include "engine_args.hpp"

#include <iostream>
#include <sstream>
#include <thread>

#include "derain/error.hpp"

namespace derain::cli {

void addEngineOptions(ArgParser& args) {
  const EngineOptions defaults;
  args.option("device", "NAME", "auto, cpu or cuda", toString(defaults.device));
  args.option("precision", "NAME", "fp32, bf16, int8 or auto (bf16 where the hardware has it; int8: bf16 with 8-bit integer "
              "convolutions, CPUs with AVX-512 VNNI)",
              toString(defaults.precision));
  args.option("threads", "N", "CPU inference threads, 0 = every core (at most " + std::to_string(kMaxThreads) + ")",
              std::to_string(defaults.threads));
  args.option("tile-size", "PIXELS",
              "process frames in tiles of this side, 0 = automatic, else " + std::to_string(kMinTileSize) + ".." +
                  std::to_string(kMaxTileSize),
              std::to_string(defaults.tile_size));
  args.option("tile-overlap", "PIXELS", "pixels shared by neighbouring tiles, 0.." + std::to_string(kMaxTileOverlap),
              std::to_string(defaults.tile_overlap));
  args.flag("generator-colour", "deraining: keep the generator's colours (by default the removed rain layer is made "
                                "grey, which removes the model's colour cast)");
  args.flag("unbounded-rain", "deraining: do not bound the grey rain layer (by default it never brightens a pixel "
                              "nor darkens it below the darkest input pixel near it in its row)");
  std::ostringstream strength;
  strength << defaults.rain_strength;
  std::ostringstream most;
  most << kMaxRainStrength;
  args.option("rain-strength", "X",
              "deraining: how much of the rain the model finds is removed, 0.." + most.str() +
                  " (above 1 removes more of heavy rain that 1 only thins, at some cost on clean detail; 0 = the "
                  "input unchanged)",
              strength.str());
}

int threadsOption(const ArgParser& args, const std::string& name) {
  const int threads = args.getInt(name, 0, kMaxThreads);
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && static_cast<unsigned>(threads) > cores)
    std::cerr << "warning: --" << name << " " << threads << " is more than this machine's " << cores
              << " cores; the extra threads only wait for each other\n";
  return threads;
}

EngineOptions engineOptionsFrom(const ArgParser& args) {
  EngineOptions options;
  try {
    options.device = parseDevice(args.get("device"));
    options.precision = parsePrecision(args.get("precision"));
  } catch (const Error& e) {
    args.fail(e.what());
  }
  options.threads = threadsOption(args);
  options.tile_size = args.getInt("tile-size", 0, kMaxTileSize);
  if (options.tile_size != 0 && options.tile_size < kMinTileSize)
    args.fail("option '--tile-size' is out of range: " + std::to_string(options.tile_size) + " (must be 0 or " +
              std::to_string(kMinTileSize) + ".." + std::to_string(kMaxTileSize) + ")");
  options.tile_overlap = args.getInt("tile-overlap", 0, kMaxTileOverlap);
  options.grey_rain = !args.flagSet("generator-colour");
  options.bounded_rain = !args.flagSet("unbounded-rain");
  options.rain_strength = static_cast<float>(args.getDouble("rain-strength"));
  try {
    options.validate();  // the engine's own check, so the two can never disagree
  } catch (const Error& e) {
    args.fail(e.what());
  }
  return options;
}

}  // namespace derain::cli
