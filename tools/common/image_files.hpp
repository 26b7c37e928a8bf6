// File helpers shared by the CLIs: creating output folders, writing images with a clear error, and
// telling video files from images by extension.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace derain::cli {

// Creates `dir` and its parents; derain::Error naming the folder if that fails.
void makeFolder(const std::string& dir);
// cv::imwrite with a derain::Error naming the file on failure (unknown extension, I/O error).
void writeImage(const std::string& path, const cv::Mat& image);
// The extension of `path`, lower-case, with its dot (".mp4"); empty if none.
std::string lowerExtension(const std::string& path);
// Lower-case extensions (with the dot) of the common video containers.
extern const std::vector<std::string> kVideoExtensions;
// Whether the extension is one of them.
bool isVideoPath(const std::string& path);

}  // namespace derain::cli
