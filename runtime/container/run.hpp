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

#include "runtime/container/run_options.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

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
