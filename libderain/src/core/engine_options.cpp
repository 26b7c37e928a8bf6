#include "derain/engine_options.hpp"

#include <sstream>
#include <string>

#include "derain/error.hpp"

namespace derain {

namespace {
std::string range(int lo, int hi) { return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; }
}  // namespace

void EngineOptions::validate() const {
  if (threads < 0 || threads > kMaxThreads)
    throw Error("threads must be in " + range(0, kMaxThreads) + " (0 = every core), got " + std::to_string(threads));
  if (tile_overlap < 0 || tile_overlap > kMaxTileOverlap)
    throw Error("tile-overlap must be in " + range(0, kMaxTileOverlap) + ", got " + std::to_string(tile_overlap));
  if (tile_size != 0 && (tile_size < kMinTileSize || tile_size > kMaxTileSize))
    throw Error("tile-size must be 0 (auto) or in " + range(kMinTileSize, kMaxTileSize) + ", got " +
                std::to_string(tile_size));
  if (!(rain_strength >= 0.0f && rain_strength <= kMaxRainStrength)) {  // NaN fails too
    std::ostringstream message;
    message << "rain-strength must be in [0, " << kMaxRainStrength << "], got " << rain_strength;
    throw Error(message.str());
  }
  if (tile_size != 0 && 2 * tile_overlap >= tile_size)
    throw Error("tile-overlap (" + std::to_string(tile_overlap) + ") must be less than half of tile-size (" +
                std::to_string(tile_size) + ")");
}

bool EngineOptions::operator==(const EngineOptions& o) const {
  return device == o.device && precision == o.precision && threads == o.threads && tile_size == o.tile_size &&
         tile_overlap == o.tile_overlap && grey_rain == o.grey_rain &&
         bounded_rain == o.bounded_rain && rain_strength == o.rain_strength;
}

}  // namespace derain
