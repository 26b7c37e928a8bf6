// File helpers shared by the CLIs: creating output folders, reading and writing images with clear
// errors, and telling video files from images by extension.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace derain::cli {

// Creates `dir` and its parents; derain::Error naming the folder if that fails.
void makeFolder(const std::string& dir);
// Writes an image through a PendingFile (safe_output.hpp): a temporary file renamed into place, so
// a failed write leaves any previous file of that name intact. derain::Error naming the file on
// failure (unknown extension, I/O error).
void writeImage(const std::string& path, const cv::Mat& image);
// cv::imread(path, flags); derain::Error "cannot read image 'PATH': WHY" when it fails, WHY being
// unreadableReason.
cv::Mat readImage(const std::string& path, int flags);
// Why cv::imread fails on `path`: no such file, a folder, no permission, empty, not an image format
// OpenCV reads, or corrupt / unsupported data.
std::string unreadableReason(const std::string& path);
// Whether an image file ends before its end marker (a JPEG without EOI, a PNG without IEND): OpenCV
// decodes such files with the missing part grey, without an error.
bool imageLooksTruncated(const std::string& path);
// The extension of `path`, lower-case, with its dot (".mp4"); empty if none.
std::string lowerExtension(const std::string& path);
// Lower-case extensions (with the dot) of the common video containers.
extern const std::vector<std::string> kVideoExtensions;
// Whether the extension is one of them.
bool isVideoPath(const std::string& path);
// Whether OpenCV has an encoder for this file name's extension.
bool isWritableImagePath(const std::string& path);

}  // namespace derain::cli
