#pragma once
// Helpers the reference runners share. OverlayRootfs mounts the image on the host for an
// OCI bundle. ParentCgroup is a cgroup whose peak covers the tool's own cgroup below it.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/runner.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"

namespace isolab::bench {

// An overlay mount of the image's layers at <folder>/rootfs with <folder>/upper as its
// upper dir, in the host's mount namespace. The destructor unmounts it (lazily, so a
// process still holding it cannot make the unmount fail).
class OverlayRootfs {
public:
    OverlayRootfs(const std::vector<std::filesystem::path>& lowerdirs, const std::filesystem::path& folder);
    ~OverlayRootfs();
    OverlayRootfs(const OverlayRootfs&) = delete;
    OverlayRootfs& operator=(const OverlayRootfs&) = delete;

    const std::filesystem::path& rootfs() const { return rootfs_; }
    const std::filesystem::path& upperdir() const { return upperdir_; }

private:
    std::filesystem::path rootfs_;
    std::filesystem::path upperdir_;
};

// A cgroup "isolab-bench-<hex>" created at the top of each hierarchy. A tool is given
// `child_path()` as its cgroup, so the peak of this parent covers what the tool's
// container used, even after the tool removed its own cgroup.
class ParentCgroup {
public:
    ParentCgroup();
    // Also removes empty child cgroups the tools left (podman's conmon) and the folders of
    // that name runc or crun created in hierarchies isolab does not use (v1 cpuset, devices).
    ~ParentCgroup();
    ParentCgroup(const ParentCgroup&) = delete;
    ParentCgroup& operator=(const ParentCgroup&) = delete;

    // The path to pass as cgroupsPath or --cgroup-parent: "/isolab-bench-<hex>[/child]".
    std::string path() const { return "/" + name_; }
    std::string child_path(const std::string& child) const { return path() + "/" + child; }
    std::uint64_t memory_peak() { return cgroup_->memory_peak(); }
    std::string version() const { return std::string(kernel::to_string(cgroup_->version())); }

private:
    std::string name_;
    kernel::CgroupHost host_;
    std::unique_ptr<kernel::Cgroup> cgroup_;
};

// The image's Env, with PATH added when the image has none.
std::vector<std::string> image_environment(const image::Image& image);

// A minimal OCI runtime config.json (runtime-spec 1.0.2) running `command` in new pid,
// ipc, uts, mount and network namespaces, with /proc, /dev, /sys and the masked paths
// Docker hides, in cgroup `cgroups_path` limited to `memory_bytes`.
std::string oci_config(const std::vector<std::string>& command, const std::vector<std::string>& env,
                       const std::string& cgroups_path, std::uint64_t memory_bytes);

// crun 1.8 rejects a cgroup v1 host whose cgroup2 mount has controllers (hybrid mode),
// and podman runs crun. On such a host the tool runs in a private mount namespace without
// the cgroup2 mount, where only cgroup v1 is mounted, as runc expects. Returns the command that
// goes before the tool's own arguments (unshare, sh and umount), or nothing elsewhere.
std::vector<std::string> hybrid_cgroup_wrapper(const kernel::CgroupHost& host);

// A note for the results when `wrapper` is not empty, saying what it adds to the time.
std::string hybrid_cgroup_note(const std::vector<std::string>& wrapper);

// podman's --ulimit arguments: nofile at the calling process's hard limit, and nproc at
// 4096 at most, because the OCI runtime's setrlimit failed with EPERM for nproc above about
// 32768 on a host whose hard limit was 96369. No workload needs more processes.
std::vector<std::string> podman_ulimit_arguments();

}  // namespace isolab::bench
