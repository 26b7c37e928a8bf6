// Image files of a folder, the way every libderain tool reads datasets.
#pragma once

#include <string>
#include <vector>

namespace derain::cli {

// Regular files in `dir` with an image extension (png, jpg, jpeg, bmp, tif, tiff, webp; any case),
// sorted by name. Throws derain::Error if `dir` does not exist or is not a folder.
std::vector<std::string> listImages(const std::string& dir);

// Training data: the images and video files (mp4, m4v, mov, avi, mkv, webm, mpg, mpeg, wmv, flv, ts)
// of a folder, sorted by name; or `path` itself when it is a video file. Throws derain::Error when
// `path` is neither a folder nor a file.
std::vector<std::string> listImagesAndVideos(const std::string& path);

}  // namespace derain::cli
