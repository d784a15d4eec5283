#pragma once
// Launching a container's first process: cloned into new namespaces, it waits until the
// parent has put it in its cgroup, then builds its rootfs, pivots into it and execs the
// workload. A status pipe carries each phase (with its time) and any failure back to the
// parent; exec closes the pipe, which tells the parent the workload started.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container/security.hpp"
#include "runtime/container/mount_spec.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/linux/cgroup_devices.hpp"
#include "runtime/linux/mounts.hpp"
#include "runtime/linux/namespaces.hpp"
#include "runtime/linux/pty.hpp"

namespace isolab::container {

// Everything the first process needs, prepared by the parent before clone.
struct LaunchPlan {
    std::string hostname;
    std::vector<std::filesystem::path> lowerdirs;
    std::filesystem::path upperdir;
    std::filesystem::path workdir;
    std::filesystem::path rootfs;        // where the overlay is mounted
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string working_dir;
    std::vector<kernel::TmpfsMount> tmpfs;
    std::vector<kernel::DeviceMapping> devices;  // --device, bound from the host into /dev
    std::vector<ContainerMount> mounts;      // -v, --mount and the image's Volumes, parents first
    bool read_only_rootfs = false;
    std::optional<std::filesystem::path> init_binary;  // bound read-only at init_target
    std::vector<std::string> masked_paths = kernel::default_masked_paths();
    std::vector<std::string> read_only_paths = kernel::default_read_only_paths();
    bool sys_read_only = true;
    std::string user;                        // -u, resolved inside the rootfs; empty: root
    bool home_from_user = false;             // HOME was not given: take it from /etc/passwd
    ProcessSecurity security;
    int clone_flags = kernel::container_clone_flags();  // namespaces of its own
    bool own_network = true;                 // false with --network host: lo is the host's
    int terminal_socket = -1;                // -t: where to send the terminal opened in the container's devpts
    std::optional<winsize> terminal_size;    // the caller's window size for that terminal
    bool keep_stdin = false;                 // -i: stdin is this process's, not /dev/null
    bool own_cgroup_namespace = true;        // false: the process stays in the caller's cgroup namespace
    bool dies_with_parent = false;           // SIGKILL when the thread that launched it exits (PR_SET_PDEATHSIG)
    // Descriptors the first process keeps open besides stdio, its pipes and terminal_socket;
    // it closes every other one right after clone.
    std::vector<int> inherited_fds;

    // Replacements for `isolab oci`, whose config.json describes the rootfs and the
    // process's security in its own terms. Each runs in the container's first process.
    std::function<void(const LaunchPlan&)> build_rootfs;  // replaces the overlay, kernel filesystems and mounts
    std::function<void()> enter_security;                 // replaces enter_process_security
    std::function<void(int status_fd)> before_exec;       // runs last before exec, e.g. waits for `start`
};

// Where --init puts isolab-init inside the container.
inline constexpr const char* init_target = "/.isolab-init";

// The first process of a container, from clone until exec. The destructor kills it
// unless it was reaped.
class Launch {
public:
    // Clones the first process; it waits for start(). stdout_fd and stderr_fd become the
    // workload's stdout and stderr (-1: inherit).
    Launch(const LaunchPlan& plan, int stdout_fd, int stderr_fd);
    ~Launch();
    Launch(const Launch&) = delete;
    Launch& operator=(const Launch&) = delete;

    pid_t pid() const { return child_.pid(); }
    kernel::ChildProcess& child() { return child_; }

    // Lets the process continue and records its phases (mounts, pivot_root, exec) in
    // `phases`. Returns true once the workload was executed, false when the process
    // reported a failure, which failure() then holds. With `pause_phase`, returns true
    // as soon as the process reports that phase; resume() then reads on until the exec.
    bool start(PhaseRecorder& phases, const std::string& pause_phase = {});
    bool resume(PhaseRecorder& phases);
    const Error& failure() const { return *failure_; }

    // Leaves the process running when this object is destroyed; it is no longer reaped
    // here. Returns its pid.
    pid_t release() { return child_.release(); }

private:
    kernel::ChildProcess child_;
    int sync_write_ = -1;    // parent -> child: one byte when the cgroup is ready
    int status_read_ = -1;   // child -> parent: phases and failures
    std::optional<Error> failure_;
    bool executed_ = false;

    bool read_status(PhaseRecorder& phases, const std::string& pause_phase);
};

// Finds the executable for argv[0] by PATH from `env` as execvp would. Returns the path,
// or throws Error with exit code 127 (not found) or 126 (not executable).
std::string find_executable(const std::string& command, const std::vector<std::string>& env);

}  // namespace isolab::container
