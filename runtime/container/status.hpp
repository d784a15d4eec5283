#pragma once
// A container's status as its processes support it now. state.json says what the owner
// of the container (the monitor of a detached container, or the `isolab run` process in
// the foreground) last recorded; when that owner died without recording the end, the
// recorded status is checked against the processes that still exist.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "runtime/container/record.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {

// The start time of a process in clock ticks after boot (/proc/PID/stat field 22), or 0
// when it does not exist or is a zombie.
std::uint64_t process_start_ticks(pid_t pid);

// True when `pid` exists, is not a zombie and, unless `start_ticks` is 0, started at
// `start_ticks`, so a reused pid does not count.
bool process_alive(pid_t pid, std::uint64_t start_ticks);

// The state with its status checked against the processes:
// - running: the first process lives, or it ended and the owner lives to record the exit;
// - restarting: the monitor lives and waits to restart the workload;
// - exited: otherwise. When the owner died before recording an exit code, it is 255,
//   because nobody could wait for the process.
ContainerState observed_state(const StoredContainer& container);

// True when the observed status is running or restarting.
bool is_active(const StoredContainer& container);

// Reads state.json, lets `change` modify it and writes it back atomically, all under the
// container's state lock. Returns the new state.
ContainerState update_state(const ContainerPaths& paths, const std::function<void(ContainerState&)>& change);

// Like update_state, but writes only when `change` returns true. Returns what it returned.
bool update_state_if(const ContainerPaths& paths, const std::function<bool(ContainerState&)>& change);

// Reads the container's state.json again.
ContainerState read_state(const ContainerPaths& paths);

// Finds a container by name, id or unique id prefix. Throws no_such_container when there
// is none.
StoredContainer require_container(const Paths& paths, const std::string& name_or_id);

// The error for names (one, or several joined by ", ") that match no container, with
// target_error_exit_code.
Error no_such_container(const std::string& names);

// The error for a container that must run and does not, with target_error_exit_code.
Error container_not_running(const std::string& name);

// Parses an RFC 3339 UTC time as isolab writes it ("2024-05-01T12:00:00.123456789Z").
// Returns nullopt for an empty or malformed text.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

// A duration as Docker prints it in `ps`: "Less than a second", "3 seconds", "About a
// minute", "5 minutes", "About an hour", "3 hours", "2 days", "3 weeks", "4 months".
std::string human_duration(std::chrono::system_clock::duration duration);

// The STATUS column of `ps`: "Up 3 seconds", "Exited (0) 2 seconds ago", "Created",
// "Restarting (1) 1 second ago", with times counted up to `now`.
std::string status_text(const StoredContainer& container, std::chrono::system_clock::time_point now);

}  // namespace isolab::container
