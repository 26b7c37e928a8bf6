// "Nothing lost": how the CLIs write their outputs and check them against their inputs.
//
// Every output (image, video, CSV) is written to a temporary file in the same folder, with the same
// extension (so OpenCV picks the same format), and renamed over the final name only once complete:
// a failure, an exception or an interruption (run_main.hpp) leaves the previous file untouched and
// no partial one. Only SIGKILL or a power cut can leave a hidden ".NAME.part-PID-N.EXT" behind.
#pragma once

#include <string>

namespace derain::cli {

class PendingFile {
 public:
  explicit PendingFile(std::string path);
  ~PendingFile();  // removes the temporary file unless committed
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;

  const std::string& path() const { return path_; }      // the final name
  const std::string& tempPath() const { return temp_; }  // write here
  // Renames the temporary file into place (atomic on one file system); derain::Error naming the
  // file if it cannot (missing temporary file, a folder of that name, no permission).
  void commit();
  // Removes the temporary file now.
  void discard();

 private:
  std::string path_, temp_;
  bool done_ = false;
};

// Whether two paths name the same file: the same inode when both exist, else the same normalised
// absolute path (symbolic links of the existing part resolved).
bool sameFile(const std::string& a, const std::string& b);
// derain::Error "refusing to write OUTPUT: it is the input INPUT" when sameFile(input, output).
void refuseSameFile(const std::string& input, const std::string& output);
// derain::Error when the output folder is the input folder, lies inside it or contains it; the
// labels name the options ("--out", "--rainy") in the message.
void refuseNestedFolders(const std::string& input_dir, const std::string& input_label, const std::string& output_dir,
                         const std::string& output_label);
// Whether `path` (a file or folder) lies inside `folder`, at any depth (not `folder` itself);
// spellings and symbolic links of the existing part are resolved.
bool liesWithin(const std::string& path, const std::string& folder);
// derain::Error unless `path`'s folder exists and is writable and `path` itself is not a folder:
// the checks to make before any slow work.
void checkWritableOutput(const std::string& path);

}  // namespace derain::cli
