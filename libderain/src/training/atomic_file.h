// Replacing a file of the training run atomically: the new content goes to a temporary file in the
// same folder (same extension, so OpenCV picks the same format), which is renamed over the old one
// only once complete. A crash or a failed write leaves the previous file intact, never a partial one.
#pragma once

#include <functional>
#include <string>

namespace derain::detail {

// Calls write(temp_path), which must create the file (and may throw); then renames it to `path`.
// The temporary file is removed on any failure. derain::Error naming `path` if the rename fails.
void replaceFileAtomically(const std::string& path, const std::function<void(const std::string& temp)>& write);
// replaceFileAtomically for text; derain::Error if the text cannot be written completely.
void writeTextAtomically(const std::string& path, const std::string& text);

}  // namespace derain::detail
