#pragma once
// Running a reference tool (crun, runc, podman, qemu-system-x86_64) as a child process
// and receiving its output line by line with the host time each line arrived, plus a
// periodic callback while it runs (for sampling its memory).
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"

namespace isolab::bench {

using ProcessLineHandler = std::function<void(std::string_view line, Clock::time_point when)>;
using ProcessTickHandler = std::function<void(pid_t pid)>;

struct StreamOptions {
    std::chrono::milliseconds tick_interval{20};
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};
    ProcessTickHandler on_tick;  // optional
};

// Runs argv (looked up in PATH) with stdout and stderr on one pipe and stdin on
// /dev/null, calls `on_line` for each line, and returns the exit code (128 + signal when
// killed). At the timeout the process group is killed and Error is thrown, and likewise
// on SIGINT or SIGTERM, with the shell's exit code for the signal (130 or 143).
int run_streaming(const std::vector<std::string>& argv, const ProcessLineHandler& on_line,
                  const StreamOptions& options = {});

}  // namespace isolab::bench
