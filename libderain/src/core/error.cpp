// Out-of-line destructors: the "key functions" that place each exception's vtable and type info in
// derain-core alone (see error.hpp), and likewise for the lazily loaded inference interfaces.
#include "derain/error.hpp"
#include "derain/inference_library.hpp"

namespace derain {

Error::~Error() = default;
ModelFileError::~ModelFileError() = default;
DeviceError::~DeviceError() = default;
SharedEngine::~SharedEngine() = default;
InferenceLibrary::~InferenceLibrary() = default;
VideoStream::~VideoStream() = default;

}  // namespace derain
