#include "progress_bar.hpp"

#include <unistd.h>

#include <cstdio>

namespace derain::cli {

namespace {
constexpr double kRedrawSeconds = 0.25;     // terminal redraw period
constexpr double kLogLineSeconds = 10.0;    // period of plain lines when not a terminal
constexpr int kBarWidth = 28;

std::string formatDuration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double ProgressBar::itemsPerSecond() const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int64_t counted = done_ - (start_done_ < 0 ? 0 : start_done_);
  return elapsed > 0 ? counted / elapsed : 0.0;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (start_done_ < 0) {
    start_done_ = done > 0 ? done - 1 : 0;  // a resumed run measures its own rate
  }
  done_ = done;
  draw(status, false);
}

void ProgressBar::finish(const std::string& status) {
  // In log mode the last update() already printed the final count: don't repeat the line.
  if (tty_ || drawn_done_ != done_) draw(status, true);
  if (tty_) std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::draw(const std::string& status, bool force) {
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since < (tty_ ? kRedrawSeconds : kLogLineSeconds) && done_ != total_) return;
  last_draw_ = now;
  drawn_done_ = done_;
  double rate = itemsPerSecond();
  double eta = rate > 0 ? (total_ - done_) / rate : -1;
  double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 0;
  int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(filled, '#');
  bar += std::string(kBarWidth - filled, '.');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %.2f it/s ETA %s %s%s", tty_ ? "\r" : "", label_.c_str(),
               bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), rate,
               formatDuration(eta).c_str(), status.c_str(), tty_ ? "\033[K" : "\n");
  std::fflush(stderr);
}

}  // namespace derain::cli
