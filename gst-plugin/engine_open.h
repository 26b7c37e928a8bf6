// Opening a derain::Engine for an element going READY -> PAUSED: resolves the model path and turns
// every libderain failure into a GStreamer element error that says what to do about it.
#pragma once

#include <memory>

#include <gst/gst.h>

#include <derain/engine.hpp>

namespace derain_gst {

// model: the element's "model" property (NULL or "" = derain::defaultModelPath()).
// Returns nullptr after posting an error on element:
//   no model anywhere / file absent   -> RESOURCE NOT_FOUND
//   unreadable, corrupt, wrong format -> LIBRARY INIT (derain::ModelFileError)
//   device or precision unavailable   -> LIBRARY INIT (derain::DeviceError)
std::unique_ptr<derain::Engine> openEngine(GstElement* element, const char* model,
                                           const derain::EngineOptions& options);

// The model file an element uses: model when set, else derain::defaultModelPath() ("" if none).
std::string resolveModelPath(const char* model);

}  // namespace derain_gst
