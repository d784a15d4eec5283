#pragma once
// The monitor of a detached container: one small isolab process per container, in its own
// session, that owns the container while it runs, as conmon does for podman. It starts
// the workload from the container's record, keeps its cgroup, stores its output in the
// log, records each start and exit in state.json, restarts it by the restart policy and
// ends when the container ends for good.
//
// If the monitor is killed, the container's processes keep running, as Docker and podman
// keep a container whose shim or conmon died. No process can then wait for them, so
// `ps` shows the container as running while its first process lives and as exited with
// code 255 after that. Their output is lost: a write to stdout or stderr then fails with
// EPIPE or SIGPIPE. `rm -f` and `system prune` remove the cgroup and the record.
#include <string>

#include "runtime/core/paths.hpp"

namespace isolab::container {

// The hidden subcommand that runs a monitor: isolab container-monitor --ready-fd N ID.
inline constexpr const char* monitor_command = "container-monitor";

// Starts the monitor of a created or exited container as a detached process and waits
// until it reports that the workload runs. Throws the failure it reports instead: exit
// code 125 when isolab could not set the container up, 126 or 127 when the command could
// not be executed.
void start_monitor(const Paths& paths, const std::string& id);

// The body of the monitor process: runs the container `id` until it ends for good. Writes
// one line to `ready_fd` once the first start succeeded or failed, then closes it.
// Returns the exit code of the monitor process (0 unless it could not run at all).
int run_monitor(const Paths& paths, const std::string& id, int ready_fd);

}  // namespace isolab::container
