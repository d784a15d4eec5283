#pragma once
// Running a container in the foreground: overlayfs rootfs from the image's layers, new
// namespaces, pivot_root, a cgroup with the requested limits, the workload's output and
// exit code passed back to the caller.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

// Receives each line the workload writes (without the newline) with the host time it
// arrived. Called on a reader thread owned by the run.
using OutputLineHandler = std::function<void(std::string_view line, bool is_stderr, Clock::time_point when)>;

struct RunOptions {
    std::string image;                      // reference or id prefix
    std::vector<std::string> command;       // empty: the image's Entrypoint + Cmd
    std::string name;                       // empty: generated
    bool remove = false;                    // --rm
    std::optional<std::uint64_t> memory_limit;  // bytes (-m)
    std::vector<std::string> env;           // "NAME=value" added to the image's Env
    std::optional<std::string> hostname;    // default: the first 12 hex digits of the id
    OutputLineHandler on_output_line;       // unset: output goes to this process's stdout/stderr

    bool init = false;                      // --init: isolab-init as pid 1, reaping orphans
    bool read_only = false;                 // --read-only rootfs
    std::vector<std::string> tmpfs;         // --tmpfs PATH[:OPTIONS]
    std::string user;                       // -u USER[:GROUP] or UID[:GID]; empty: the image's User
    std::string working_dir;                // -w; empty: the image's WorkingDir
    std::vector<std::string> cap_add;       // capability names, or ALL
    std::vector<std::string> cap_drop;
    bool privileged = false;                // all capabilities, no seccomp, no masked paths
    bool seccomp = true;                    // false: --security-opt seccomp=unconfined
    std::optional<std::int64_t> pids_limit; // --pids-limit; 0 or less: unlimited
    std::optional<double> cpus;             // --cpus
    std::optional<std::uint64_t> cpu_shares;   // --cpu-shares
    std::optional<std::int64_t> memory_swap;   // --memory-swap bytes (memory plus swap); -1: unlimited
};

// An image ready to be a rootfs: its identity, run configuration and unpacked layers.
struct ImageRootfs {
    std::string reference;
    std::string id;                                  // "sha256:..." of the image config
    image::RunConfig config;
    std::vector<std::filesystem::path> lowerdirs;    // top layer first
};

struct RunResult {
    std::string id;                   // 64 hex digits
    std::string name;
    int exit_code = -1;               // the workload's, or 128 + signal
    PhaseRecorder phases;             // create, namespaces, cgroup, mounts, pivot_root, exec, exit
    std::uint64_t memory_peak_bytes = 0;   // the cgroup's peak usage
    std::uint64_t upper_dir_bytes = 0;     // allocated bytes in the container's upper dir at exit
    std::string cgroup_version;            // "v1" or "v2"
};

// Runs a container to completion. Throws Error when it cannot be set up (exit code 125);
// a workload that fails is reported through exit_code.
RunResult run(image::Store& store, const RunOptions& options);

// Runs a container from layers that are already unpacked; run() resolves the image and
// calls this. Same contract as run().
RunResult run_image_rootfs(const Paths& paths, const ImageRootfs& image, const RunOptions& options);

}  // namespace isolab::container
