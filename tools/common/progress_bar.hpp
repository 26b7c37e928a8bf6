// A one-line progress bar on stderr: count, rate (it/s), ETA and a caller-supplied status text.
// Redraws at most a few times per second; prints plain lines instead when stderr is not a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace derain::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  // Sets the number of finished items and redraws (rate-limited).
  void update(int64_t done, const std::string& status = "");
  // Final redraw and newline.
  void finish(const std::string& status = "");
  double itemsPerSecond() const;

 private:
  void draw(const std::string& status, bool force);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  int64_t start_done_ = -1;
  int64_t drawn_done_ = -1;  // count shown by the last draw
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace derain::cli
