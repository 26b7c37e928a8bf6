// Opening an engine for an element going READY -> PAUSED: resolves the model path, loads libderain's
// inference library on first use (so registering the plugin never loads LibTorch), takes the
// process's shared engine for that model and options (elements with the same settings share one
// copy of the weights), and turns every failure into a GStreamer element error that says what to do.
#pragma once

#include <memory>

#include <gst/gst.h>

#include <derain/inference_library.hpp>

namespace derain_gst {

// model: the element's "model" property (NULL or "" = derain::defaultModelPath()); instance: its
// "model-instance-id" (NULL = "", the instance every element that names none shares).
// Returns nullptr after posting an error on element:
//   no model anywhere / file absent   -> RESOURCE NOT_FOUND
//   unreadable, corrupt, wrong format -> LIBRARY INIT (derain::ModelFileError)
//   device or precision unavailable   -> LIBRARY INIT (derain::DeviceError)
//   inference library not loadable    -> LIBRARY INIT
std::shared_ptr<derain::SharedEngine> openEngine(GstElement* element, const char* model,
                                                 const derain::EngineOptions& options, const char* instance);

// The model file an element uses: model when set, else derain::defaultModelPath() ("" if none).
std::string resolveModelPath(const char* model);

}  // namespace derain_gst
