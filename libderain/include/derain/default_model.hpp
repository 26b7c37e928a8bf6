// Where the shipped default model is found. Torch-free (derain-core).
#pragma once

#include <string>

#include "derain/export.hpp"

namespace derain {

// Path of the default model "default.derain": $DERAIN_MODEL if set (a file), else default.derain in
// $DERAIN_MODEL_DIR (a folder; `meson devenv` and the test setup point it at the source tree's
// models/ for uninstalled builds), else the installed copy (<prefix>/share/libderain/models).
// Empty string when none exists.
DERAIN_API std::string defaultModelPath();

}  // namespace derain
