#pragma once
// Container lifecycle commands without a daemon: create, run -d, start, stop, kill,
// restart and wait. A started container is owned by its monitor (monitor.hpp). These
// functions find it through state.json, signal its processes and wait until the monitor
// has recorded the result.
#include <optional>
#include <string>
#include <string_view>

#include "runtime/container/record.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

// Parses a signal as Docker accepts it: "SIGINT", "INT", "int" or "2". Throws Error.
int parse_signal(std::string_view text);

// Creates a container that has not started (status created). Returns its id.
std::string create_container(image::Store& store, const RunOptions& options);

// Creates a container and starts it under a monitor (`run -d`). Returns the id once the
// workload runs. Throws Error with exit code 125 (nothing is left behind), or 126/127
// when the command cannot be executed (the container stays, exited, unless --rm).
std::string run_detached(image::Store& store, const RunOptions& options);

// Starts a created or exited container under a new monitor; a running one is left as it
// is. Returns the container's id.
std::string start_container(const Paths& paths, const std::string& name_or_id);

// Stops a running container: its StopSignal (the image's, else SIGTERM), then SIGKILL
// after `timeout_seconds` (negative: never). Ends the restart policy. Returns once the
// exit is recorded. A container that is not running is left as it is.
void stop_container(const Paths& paths, const std::string& name_or_id, int timeout_seconds);

// Sends `signal` to the container's first process. Ends the restart policy. Throws Error
// when the container is not running.
void kill_container(const Paths& paths, const std::string& name_or_id, int signal);

// Stops the container if it runs, then starts it.
void restart_container(const Paths& paths, const std::string& name_or_id, int timeout_seconds);

// Waits until the container is no longer running or restarting and returns its exit code.
int wait_container(const Paths& paths, const std::string& name_or_id);

// Kills a running or restarting container with SIGKILL, ends its restart policy and waits
// until its monitor has ended, so the record can be removed (`rm -f`).
void kill_for_removal(const StoredContainer& container);

}  // namespace isolab::container
