// Umbrella header of libderain's public C++ API.
#pragma once

#include "derain/config.hpp"
#include "derain/demo_scene.hpp"
#include "derain/engine.hpp"
#include "derain/error.hpp"
#include "derain/metrics.hpp"
#include "derain/rain.hpp"
#include "derain/types.hpp"
