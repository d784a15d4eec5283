#pragma once
// `isolab exec`: running another command inside a running container. A helper process
// joins the container's cgroup and its cgroup, ipc, uts, net, pid and mount namespaces
// (setns on /proc/PID/ns/*), then forks so the command is born inside the pid namespace.
// The command gets the same capabilities, no_new_privs and seccomp profile as the
// container's first process, its environment plus -e, and its user and working dir
// unless -u or -w say otherwise.
#include <string>
#include <vector>

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

}  // namespace isolab::container
