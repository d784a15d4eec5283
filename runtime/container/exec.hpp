#pragma once
// `isolab exec`: running another command inside a running container. A helper process
// joins the container's cgroup and its cgroup, ipc, uts, net, pid and mount namespaces
// (setns on /proc/PID/ns/*), then forks so the command is born inside the pid namespace.
// The command gets the same capabilities, no_new_privs and seccomp profile as the
// container's first process, its environment plus -e, and its user and working dir
// unless -u or -w say otherwise.
#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <vector>

#include "runtime/container/record.hpp"

#include "runtime/core/paths.hpp"

namespace isolab::container {

struct ExecOptions {
    std::string container;              // name, id or unique id prefix
    std::vector<std::string> command;
    std::vector<std::string> env;       // "NAME=value", added to the container's environment
    std::string user;                   // -u USER[:GROUP]; empty: the container's user
    std::string working_dir;            // -w; empty: the container's working dir
    bool interactive = false;           // -i: the command reads this process's stdin
    bool tty = false;                   // -t: the command gets a pseudo-terminal
    bool detach = false;                // -d: start the command and return at once
};

// Runs the command in the container and returns its exit code (128 + signal when killed;
// 0 with detach once it started). Throws Error with exit code 125 when the container is
// missing or not running or joining it fails, 126 when the command cannot be executed
// and 127 when it is not found. A failure affects only the helper processes, never the
// container.
int exec(const Paths& paths, const ExecOptions& options);

// The outcome of a command run by exec_probe.
struct ProbeResult {
    int exit_code = -1;         // the command's, or 128 + signal
    std::string output;         // stdout and stderr in the order written, cut at the maximum
    bool truncated = false;     // the command wrote more than the maximum
    bool timed_out = false;     // killed because it ran longer than the timeout
    bool cancelled = false;     // killed because a stop was requested
};

// Runs `command` in the running container as exec does (same namespaces, cgroup, user
// and security), with stdin from /dev/null and stdout and stderr captured together, as
// Docker runs a health check. Kills the command and its process group with SIGKILL when
// it runs longer than `timeout` or `stop` is requested. Throws Error as exec does when
// the container is not running or the command cannot be executed.
ProbeResult exec_probe(const StoredContainer& container, const std::vector<std::string>& command,
                       std::chrono::nanoseconds timeout, std::size_t max_output, std::stop_token stop);

}  // namespace isolab::container
