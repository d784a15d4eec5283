#pragma once
// Running helper programs (apt-get, dpkg-deb, mkfs.ext4, qemu-img) without a shell:
// arguments go to execvp as they are, so paths with spaces or commas need no quoting.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"

namespace isolab {

struct CommandResult {
    int exit_code = -1;   // exit status, or 128 + signal number when killed by a signal
    std::string output;   // stdout and stderr together, when captured
};

struct CommandOptions {
    bool capture = true;                       // collect stdout+stderr into `output`
    std::optional<std::string> working_directory;
    std::vector<std::string> extra_environment;  // "NAME=value" added to the current environment
    std::chrono::milliseconds timeout{0};        // 0: no limit; otherwise SIGKILL at the limit
};

// Runs argv[0] (looked up in PATH) and waits for it. Throws Error when it cannot be
// started at all; a non-zero exit is reported in the result, not thrown.
CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

// Runs the command and throws Error with its output when it exits non-zero.
std::string run_checked(const std::vector<std::string>& argv, const CommandOptions& options = {});

// True when `program` is found in PATH.
bool program_available(const std::string& program);

// The isolab executable: this one, or the isolab beside it when a test program calls
// the library.
std::string isolab_executable();

// Descriptors, log and arguments of a helper process that spawn_isolab_helper starts.
struct HelperSpawn {
    std::vector<std::string> arguments;  // after the executable, e.g. {"--log-level", "info", "container-monitor", ...}
    int stdin_fd = -1;                   // becomes the helper's stdin; -1: /dev/null
    int ready_fd = -1;                   // becomes descriptor `ready_fd_number` in the helper
    int ready_fd_number = 3;
    std::filesystem::path log;           // the helper's stderr, opened for appending
};

// Starts the isolab executable as a helper (the container monitor, a VM's network
// holder) with ISOLAB_ROOT and ISOLAB_CACHE set to `paths`. The helper leads its own
// session, so the terminal's signals miss it, and starts with no blocked signals and
// SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE at their default actions. Uses
// posix_spawn rather than fork, because the caller may have threads (libvirt's, a
// health checker). Throws Error when the executable cannot be started.
pid_t spawn_isolab_helper(const Paths& paths, const HelperSpawn& spawn);

}  // namespace isolab
