// VideoOptions::validate: the valid ranges of the temporal deraining options, stated once.
#include <string>

#include "derain/error.hpp"
#include "derain/video.hpp"

namespace derain {

namespace {
void checkRange(const char* name, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))  // also rejects NaN
    throw Error(std::string("video option ") + name + " = " + std::to_string(value) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
}
}  // namespace

void VideoOptions::validate() const {
  checkRange("temporal_window", temporal_window, 0, kMaxTemporalWindow);
  checkRange("lookahead", lookahead, 0, kMaxLookahead);
  checkRange("flow_downscale", flow_downscale, 1, kMaxFlowDownscale);
  checkRange("scene_cut_threshold", scene_cut_threshold, 0.0, 1.0);
  if (color_order != ColorOrder::BGR && color_order != ColorOrder::RGB) throw Error("video option color_order is invalid");
}

}  // namespace derain
