#include "training/local_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "derain/error.hpp"

namespace derain::detail {

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket to pick a port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw Error("cannot bind a free port on 127.0.0.1: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {
std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}
}  // namespace

int runLocalWorkers(int nproc, const std::vector<std::string>& worker_args,
                    const std::function<void(const std::string&)>& message, int grace_seconds) {
  if (nproc < 1) throw Error("--nproc-per-node must be >= 1");
  const int port = freeLoopbackPort();

  // Signals arrive through sigtimedwait in the loop below, never through handlers.
  sigset_t handled, previous;
  sigemptyset(&handled);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &previous);

  std::map<pid_t, int> running;  // pid -> rank
  auto signalAll = [&](int sig) {
    for (const auto& [pid, rank] : running) ::kill(pid, sig);
  };
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      signalAll(SIGKILL);
      throw Error(std::string("cannot start worker processes: ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<std::string> args = worker_args;
      std::string self = "/proc/self/exe";
      std::vector<char*> argv{self.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(self.c_str(), argv.data());
      std::_Exit(127);
    }
    running[pid] = rank;
  }
  message("started " + std::to_string(nproc) + " workers (ranks 0.." + std::to_string(nproc - 1) +
          ", rendezvous 127.0.0.1:" + std::to_string(port) + ")");

  int forwarded = 0;     // the first signal forwarded to the workers
  int failed_rank = -1;  // the first worker that failed on its own
  int failed_code = 0;
  bool dirty = false;    // a worker ended other than 0 or 128 + forwarded
  timespec deadline{};   // SIGKILL time once the others were asked to stop
  bool killing = false;
  while (!running.empty()) {
    timespec wait{1, 0};
    const int sig = ::sigtimedwait(&handled, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      if (!forwarded) forwarded = sig;
      signalAll(sig);
    }
    // Reap whatever ended (SIGCHLD may coalesce; the timeout covers a missed one).
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      auto it = running.find(pid);
      if (it == running.end()) continue;
      const int rank = it->second;
      running.erase(it);
      const bool ok = WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
                                            (forwarded && WEXITSTATUS(status) == 128 + forwarded));
      if (ok) continue;
      dirty = true;
      if (failed_rank < 0 && !forwarded) {
        failed_rank = rank;
        failed_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        message("rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ") " + describe(status) +
                "; stopping the other workers");
        signalAll(SIGTERM);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += grace_seconds;
        killing = true;
      } else if (failed_rank < 0 && failed_code == 0) {
        failed_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        message("rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ") " + describe(status));
      }
    }
    if (killing && !running.empty()) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
        signalAll(SIGKILL);
        killing = false;
      }
    }
  }
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (failed_rank >= 0) return failed_code == 0 ? 1 : failed_code;
  if (forwarded) return dirty ? (failed_code ? failed_code : 1) : 128 + forwarded;
  return dirty ? 1 : 0;
}

}  // namespace derain::detail
