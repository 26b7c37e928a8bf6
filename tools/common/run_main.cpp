#include "run_main.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>

#include "cli_args.hpp"

namespace derain::cli {

namespace {

const char* g_tool = "derain";
volatile std::sig_atomic_t g_signal = 0;

extern "C" void onInterrupt(int signo) { g_signal = signo; }

std::string firstLine(std::string text) {
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown error" : text;
}

// An exception escaped where main cannot catch it (a destructor, a noexcept function, a worker
// thread): still one line, and no core-dumping abort.
[[noreturn]] void onTerminate() {
  std::string message = "internal error (unhandled exception)";
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      message = oneLineMessage(e);
    } catch (...) {
    }
  }
  std::fprintf(stderr, "%s: error: %s\n", g_tool, message.c_str());
  std::fflush(stderr);
  _exit(kDataExit);
}

}  // namespace

std::string oneLineMessage(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return "out of memory (" + firstLine(e.what()) + ")";
  return firstLine(e.what());
}

int runMain(const char* tool, const std::function<int()>& body) {
  g_tool = tool;
  std::set_terminate(onTerminate);
  auto report = [&](const std::string& message) {
    std::cout.flush();
    std::cerr << tool << ": error: " << message << std::endl;
  };
  try {
    return body();
  } catch (const UsageExit&) {
    return kUsageExit;  // ArgParser::fail printed the message
  } catch (const Interrupted& e) {
    std::cerr << "\n" << tool << ": interrupted (" << strsignal(e.signal()) << "); unfinished outputs removed" << std::endl;
    return 128 + e.signal();
  } catch (const std::bad_alloc& e) {
    report(oneLineMessage(e));
  } catch (const std::exception& e) {  // derain::Error, cv::Exception, c10::Error, std::*
    report(oneLineMessage(e));
  } catch (...) {
    report("unknown exception");
  }
  return kDataExit;
}

void installInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  action.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int interruptSignal() { return g_signal; }

void checkInterrupted() {
  if (g_signal != 0) throw Interrupted(g_signal);
}

}  // namespace derain::cli
