// Image files of a folder, the way every libderain tool reads datasets.
#pragma once

#include <string>
#include <vector>

namespace derain::cli {

// Regular files in `dir` with an image extension (png, jpg, jpeg, bmp, tif, tiff, webp; any case),
// sorted by name. Throws derain::Error if `dir` does not exist or is not a folder.
std::vector<std::string> listImages(const std::string& dir);

}  // namespace derain::cli
