#include "engine_open.h"

#include <exception>
#include <string>

#include <derain/error.hpp>
#include <derain/default_model.hpp>
#include <derain/process.hpp>

namespace derain_gst {

std::string resolveModelPath(const char* model) {
  if (model != nullptr && model[0] != '\0') return model;
  try {
    return derain::defaultModelPath();
  } catch (const std::exception&) {
    return "";  // no default is the same as an unreadable default: the caller reports it
  }
}

std::shared_ptr<derain::SharedEngine> openEngine(GstElement* element, const char* model,
                                                 const derain::EngineOptions& options, const char* instance) {
  std::string path;
  try {
    path = resolveModelPath(model);
  } catch (const std::exception& e) {  // only bad_alloc can get here
    GST_ELEMENT_ERROR(element, LIBRARY, INIT, ("Cannot start libderain."), ("%s", e.what()));
    return nullptr;
  }
  if (path.empty()) {
    GST_ELEMENT_ERROR(element, RESOURCE, NOT_FOUND, ("No derain model to load."),
        ("Set the 'model' property to a libderain model file (e.g. model=/path/to/lite.derain), or the "
         "DERAIN_MODEL environment variable, or install libderain's default model."));
    return nullptr;
  }
  if (!g_file_test(path.c_str(), G_FILE_TEST_EXISTS)) {
    GST_ELEMENT_ERROR(element, RESOURCE, NOT_FOUND, ("Model file '%s' does not exist.", path.c_str()),
        ("Check the 'model' property or the DERAIN_MODEL environment variable."));
    return nullptr;
  }
  try {
    auto engine = derain::inferenceLibrary().openSharedInstance(path, options, instance != nullptr ? instance : "");
    derain::keepFreedBuffersForReuse();  // a pipeline derains frame after frame (process.hpp)
    return engine;
  } catch (const derain::ModelFileError& e) {
    GST_ELEMENT_ERROR(element, LIBRARY, INIT, ("Cannot load model file '%s'.", path.c_str()), ("%s", e.what()));
  } catch (const derain::DeviceError& e) {
    GST_ELEMENT_ERROR(element, LIBRARY, INIT, ("Requested device or precision is not available."),
        ("%s (use device=auto or device=cpu, precision=fp32)", e.what()));
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(element, LIBRARY, INIT, ("Cannot start libderain with model '%s'.", path.c_str()),
        ("%s", e.what()));
  } catch (...) {
    GST_ELEMENT_ERROR(element, LIBRARY, INIT, ("Cannot start libderain with model '%s'.", path.c_str()),
        ("unknown exception"));
  }
  return nullptr;
}

}  // namespace derain_gst
