// Umbrella header of derain-core: everything usable without LibTorch (link `derain-core` alone).
#pragma once

#include "derain/colour_change.hpp"
#include "derain/config.hpp"
#include "derain/default_model.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine_options.hpp"
#include "derain/error.hpp"
#include "derain/inference_library.hpp"
#include "derain/metrics.hpp"
#include "derain/process.hpp"
#include "derain/rain.hpp"
#include "derain/rain_statistics.hpp"
#include "derain/rain_video.hpp"
#include "derain/temporal_metrics.hpp"
#include "derain/types.hpp"
#include "derain/video_options.hpp"
