#pragma once
// Running helper programs (apt-get, dpkg-deb, mkfs.ext4, qemu-img) without a shell:
// arguments go to execvp as they are, so paths with spaces or commas need no quoting.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

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

}  // namespace isolab
