#pragma once
// `isolab oci`: the command line of the OCI runtime spec (runtime.md), as runc and crun
// implement it, over a bundle (a folder with config.json and the root filesystem).
//
// The state machine: `create` leaves the container "created", its first process set up
// in its namespaces and cgroup and blocked before exec; `start` lets it exec the user's
// program ("running"); it is "stopped" once that process is gone; `delete` removes what
// is left. As with runc, no process owns a created container: the first process is
// left to the init of the host once `create` exits, and its cgroup stays until `delete`.
// Each container has a folder <root>/<id> with state.json, a copy of config.json and,
// while it waits for `start`, the FIFO exec.fifo.
#include <filesystem>
#include <string>

#include "runtime/core/paths.hpp"

namespace isolab::oci {

// The runtime spec version isolab implements, printed in the state's ociVersion.
inline constexpr const char* runtime_spec_version = "1.0.2";

// The folder of OCI containers unless --root names another: <state root>/oci.
std::filesystem::path default_root(const Paths& paths);

// Creates container `id` from the bundle. Its process inherits this process's stdin,
// stdout and stderr. Writes the pid to `pid_file` unless it is empty. Throws Error
// (exit code 125) with nothing left behind when the config or any step fails.
void create_container(const std::filesystem::path& root, const std::string& id, const std::filesystem::path& bundle,
                      const std::filesystem::path& pid_file);

// Lets a created container exec its program and runs the poststart hooks.
void start_container(const std::filesystem::path& root, const std::string& id);

// The state of the container as JSON: ociVersion, id, status, pid (while it has a
// process), bundle and annotations.
std::string container_state(const std::filesystem::path& root, const std::string& id);

// Sends `signal` (a name such as TERM or SIGKILL, or a number) to the container's first
// process. Throws Error unless the container is created or running.
void kill_container(const std::filesystem::path& root, const std::string& id, const std::string& signal);

// Removes a stopped or created container: its cgroup, then its folder, then runs the
// poststop hooks. With `force`, a running container is killed first.
void delete_container(const std::filesystem::path& root, const std::string& id, bool force);

// Creates and starts the container, waits for its program while forwarding SIGINT,
// SIGTERM, SIGHUP and SIGQUIT to it, deletes the container and returns the program's
// exit code (128 + signal when a signal killed it).
int run_container(const std::filesystem::path& root, const std::string& id, const std::filesystem::path& bundle,
                  const std::filesystem::path& pid_file);

}  // namespace isolab::oci
