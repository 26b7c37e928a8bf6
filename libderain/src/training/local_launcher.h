// --nproc-per-node: starts N local worker processes of the current executable (like torchrun on
// one machine), each with RANK = LOCAL_RANK = i, WORLD_SIZE = LOCAL_WORLD_SIZE = N,
// MASTER_ADDR = 127.0.0.1 and MASTER_PORT = a free port (chosen by binding port 0), and waits.
// No torch here: the workers do the training.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace derain::detail {

// A free TCP port on 127.0.0.1 (bound to port 0, read back, released). Throws derain::Error.
int freeLoopbackPort();

// Runs `nproc` workers: /proc/self/exe with `worker_args` (argv[1..], without the launcher's own
// option). Each worker gets its own process group (a terminal's Ctrl-C reaches only the launcher)
// and is sent SIGTERM if the launcher dies. SIGINT/SIGTERM to the launcher are forwarded to every
// worker, once per signal received (the workers stop together and rank 0 checkpoints once).
// A worker that fails (non-zero exit or killed) while no signal was forwarded is named through
// `message`, and the others get SIGTERM, then SIGKILL after `grace_seconds`.
// Returns the launcher's exit status: 0 when every worker succeeded, 128 + signal after a forwarded
// signal whose workers all exited cleanly (0 or 128 + signal), else the failed rank's status (1 if
// it was killed by a signal).
int runLocalWorkers(int nproc, const std::vector<std::string>& worker_args,
                    const std::function<void(const std::string&)>& message, int grace_seconds = 10);

}  // namespace derain::detail
