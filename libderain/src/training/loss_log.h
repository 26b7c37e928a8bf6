// The per-iteration CSV log of every loss term ("iteration,lr,adversarial,...,d_r"; one row per
// iteration, 1-based: the row of iteration k holds the losses of the k-th step). Floats are written
// with 9 significant digits, enough to round-trip float32 exactly, so logs of two runs can be compared
// bit for bit.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "training/step_losses.h"

namespace derain::detail {

struct LossRow {
  int64_t iteration = 0;
  double lr = 0;
  std::array<double, StepLosses::kCount> values{};
};

class LossLog {
 public:
  // Starts a new log (an existing file is replaced) or, when `resume_iteration` > 0, keeps the rows
  // of iterations <= resume_iteration of an existing log (rows a crash left beyond the checkpoint
  // are dropped) and appends after them. Throws derain::Error if the file cannot be written.
  LossLog(const std::string& path, int64_t resume_iteration);
  ~LossLog();
  LossLog(const LossLog&) = delete;
  LossLog& operator=(const LossLog&) = delete;

  void append(int64_t iteration, double lr, const StepLosses& losses);  // flushed at once
  const std::vector<LossRow>& rows() const { return rows_; }             // for the loss plot

  static std::string header();
  static std::string formatRow(const LossRow& row);

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  std::vector<LossRow> rows_;
};

}  // namespace derain::detail
