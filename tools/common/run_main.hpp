// The body of every CLI's main: runs it, and turns anything it throws into ONE line on stderr
// ("TOOL: error: ...", no backtrace) and a non-zero exit. Also the Ctrl-C / SIGTERM handling of the
// tools that write outputs: the handler only sets a flag, the work loop polls it (checkInterrupted),
// the exception unwinds (removing pending outputs, safe_output.hpp) and runMain exits 128 + signal.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace derain::cli {

// Exit code of a data or I/O error (bad input, failed write, out of memory).
constexpr int kDataExit = 1;

// Runs `body` and returns its exit code; on an exception prints "tool: error: <first line of the
// message>" and returns kDataExit (kUsageExit for ArgParser::fail, 128 + signal for Interrupted).
// Also installs a std::terminate handler that prints one line instead of "terminate called ...".
int runMain(const char* tool, const std::function<int()>& body);

// Thrown by checkInterrupted once SIGINT/SIGTERM arrived (after installInterruptHandlers).
class Interrupted : public std::exception {
 public:
  explicit Interrupted(int signal) : signal_(signal) {}
  int signal() const { return signal_; }
  const char* what() const noexcept override { return "interrupted"; }

 private:
  int signal_;
};

// SIGINT and SIGTERM set a flag instead of killing the process; a second signal kills at once.
void installInterruptHandlers();
// The signal received so far, 0 if none.
int interruptSignal();
// Throws Interrupted if a signal arrived.
void checkInterrupted();

// The text of an exception for a one-line message: its what(), cut at the first newline (LibTorch's
// c10::Error appends a backtrace there), and "out of memory" for std::bad_alloc.
std::string oneLineMessage(const std::exception& e);

}  // namespace derain::cli
