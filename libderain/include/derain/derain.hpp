// Umbrella header of libderain's public C++ API (link `derain`; core.hpp alone needs only derain-core).
#pragma once

#include "derain/core.hpp"
#include "derain/engine.hpp"
#include "derain/video.hpp"
