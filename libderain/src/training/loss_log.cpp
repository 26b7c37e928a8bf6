#include "training/loss_log.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "derain/error.hpp"
#include "training/atomic_file.h"

namespace derain::detail {

namespace {
bool parseRow(const std::string& line, LossRow& row) {
  std::istringstream in(line);
  std::string cell;
  std::vector<std::string> cells;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (cells.size() != 2 + StepLosses::kCount) return false;
  try {
    row.iteration = std::stoll(cells[0]);
    row.lr = std::stod(cells[1]);
    for (size_t i = 0; i < StepLosses::kCount; ++i) row.values[i] = std::stod(cells[2 + i]);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}
}  // namespace

std::string LossLog::header() {
  std::string h = "iteration,lr";
  for (const char* name : StepLosses::names()) h += std::string(",") + name;
  return h;
}

std::string LossLog::formatRow(const LossRow& row) {
  char buf[64];
  std::string line = std::to_string(row.iteration);
  std::snprintf(buf, sizeof buf, ",%.9g", row.lr);
  line += buf;
  for (double v : row.values) {
    std::snprintf(buf, sizeof buf, ",%.9g", v);
    line += buf;
  }
  return line;
}

LossLog::LossLog(const std::string& path, int64_t resume_iteration) : path_(path) {
  if (resume_iteration > 0) {
    std::ifstream in(path);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {
        first = false;
        if (line == header()) continue;
      }
      LossRow row;
      if (parseRow(line, row) && row.iteration <= resume_iteration) rows_.push_back(row);
    }
  }
  // Rewritten through a temporary file (the old log stays whole until the new one is), then appended.
  std::string text = header() + "\n";
  for (const auto& row : rows_) text += formatRow(row) + "\n";
  writeTextAtomically(path, text);
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw Error("cannot write the loss log '" + path + "': " + std::strerror(errno));
}

LossLog::~LossLog() {
  if (file_) std::fclose(file_);
}

void LossLog::append(int64_t iteration, double lr, const StepLosses& losses) {
  LossRow row{iteration, lr, losses.values()};
  rows_.push_back(row);
  std::fprintf(file_, "%s\n", formatRow(row).c_str());
  if (std::fflush(file_) != 0) throw Error("cannot write the loss log '" + path_ + "': " + std::strerror(errno));
}

}  // namespace derain::detail
