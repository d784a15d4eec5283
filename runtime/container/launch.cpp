#include "runtime/container/launch.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sstream>

#include "runtime/container/mounts_plan.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/status_pipe.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/pty.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

void wait_for_parent(int sync_fd) {
    char byte = 0;
    ssize_t count;
    while ((count = read(sync_fd, &byte, 1)) < 0 && errno == EINTR) {
    }
    if (count != 1) throw Error("the parent isolab process went away before the container started");
    close(sync_fd);
}

void build_rootfs(const LaunchPlan& plan) {
    kernel::make_mounts_private();
    kernel::mount_overlay(plan.lowerdirs, plan.upperdir, plan.workdir, plan.rootfs);
    kernel::mount_kernel_filesystems(plan.rootfs, plan.sys_read_only);
    for (const auto& device : plan.devices) kernel::bind_device(plan.rootfs, device.host_path, device.container_path);
    for (const auto& tmpfs : plan.tmpfs) kernel::mount_tmpfs(plan.rootfs, tmpfs);
    mount_container_mounts(plan.rootfs, plan.mounts);
    if (plan.init_binary) kernel::bind_file_read_only(*plan.init_binary, plan.rootfs, init_target);
}

void secure_rootfs(const LaunchPlan& plan) {
    kernel::mask_paths(plan.masked_paths);
    kernel::make_paths_read_only(plan.read_only_paths);
    if (plan.read_only_rootfs) kernel::make_root_read_only();
}

void set_stdio(const LaunchPlan& plan, int stdout_fd, int stderr_fd) {
    if (plan.terminal_socket >= 0) {
        kernel::open_terminal_and_send(plan.terminal_socket, plan.terminal_size);
        return;
    }
    int null_input = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!plan.keep_stdin && (null_input < 0 || dup2(null_input, STDIN_FILENO) < 0)) throw_errno("cannot open /dev/null as stdin");
    if (stdout_fd >= 0 && dup2(stdout_fd, STDOUT_FILENO) < 0) throw_errno("cannot set stdout");
    if (stderr_fd >= 0 && dup2(stderr_fd, STDERR_FILENO) < 0) throw_errno("cannot set stderr");
}

void enter_working_dir(const std::string& working_dir) {
    if (chdir(working_dir.c_str()) == 0) return;
    std::error_code error;
    fs::create_directories(working_dir, error);
    if (chdir(working_dir.c_str()) != 0) throw_errno("cannot enter the working directory " + working_dir);
}

[[noreturn]] void exec_workload(const LaunchPlan& plan, const std::vector<std::string>& env, int status_fd) {
    auto path = find_executable(plan.argv.front(), env);
    auto argv = c_strings(plan.argv);
    auto envp = c_strings(env);

    // The workload inherits no descriptor of isolab's beyond stdin, stdout and stderr.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    report_phase(status_fd, "exec");
    execve(path.c_str(), argv.data(), envp.data());

    int saved = errno;
    std::string quoted = "\"" + plan.argv.front() + "\"";
    if (saved == ENOENT) throw Error("exec: " + quoted + ": no such file or directory", {}, 127);
    throw Error("exec: " + quoted + ": " + std::strerror(saved), {}, 126);
}

int container_main(const LaunchPlan& plan, int sync_fd, int status_fd, int stdout_fd, int stderr_fd) {
    try {
        wait_for_parent(sync_fd);
        // Entered after the parent moved this process into its cgroup, so that cgroup is
        // the root of what the workload sees in /proc/self/cgroup.
        if (plan.own_cgroup_namespace && unshare(CLONE_NEWCGROUP) != 0) throw_errno("unshare the cgroup namespace");
        if (!plan.hostname.empty()) kernel::set_hostname(plan.hostname);
        if (plan.build_rootfs) {
            plan.build_rootfs(plan);
        } else {
            build_rootfs(plan);
        }
        report_phase(status_fd, "mounts");

        kernel::pivot_root_into(plan.rootfs);
        report_phase(status_fd, "pivot_root");

        secure_rootfs(plan);
        if (plan.own_network) kernel::bring_up_loopback();
        set_stdio(plan, stdout_fd, stderr_fd);
        // The working directory is created as root, like Docker creates a missing WorkingDir.
        enter_working_dir(plan.working_dir);
        auto env = plan.env;
        if (plan.enter_security) {
            plan.enter_security();
        } else {
            enter_process_security(plan.security, plan.user, plan.home_from_user, env);
        }
        if (plan.before_exec) plan.before_exec(status_fd);
        // Set after the last change of user, which clears it. A parent that died before
        // this line is noticed by the write of the exec phase, which then fails with EPIPE.
        if (plan.dies_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) throw_errno("cannot set the parent death signal");
        exec_workload(plan, env, status_fd);
    } catch (const Error& error) {
        report_failure(status_fd, error);
        return error.exit_code();
    } catch (const std::exception& error) {
        report_failure(status_fd, Error(error.what()));
        return 125;
    }
}

Clock::time_point time_from_nanoseconds(const std::string& text) {
    return Clock::time_point(std::chrono::nanoseconds(std::stoll(text)));
}

// Closes every descriptor above stderr except `keep`. Other threads of the calling process
// may hold pipes they read to end of file, or lock files, at the moment of clone. If the
// first process kept its copies until exec, those threads would wait for this container's
// start, and a container started on another thread could wait for them in turn.
void close_inherited_descriptors(std::vector<int> keep) {
    std::erase_if(keep, [](int fd) { return fd <= STDERR_FILENO; });
    std::sort(keep.begin(), keep.end());
    unsigned first = STDERR_FILENO + 1;
    for (int fd : keep) {
        auto kept_fd = static_cast<unsigned>(fd);
        if (kept_fd > first) syscall(SYS_close_range, first, kept_fd - 1, 0U);
        first = std::max(first, kept_fd + 1);
    }
    syscall(SYS_close_range, first, UINT_MAX, 0U);
}

}  // namespace

std::string find_executable(const std::string& command, const std::vector<std::string>& env) {
    std::string quoted = "\"" + command + "\"";
    if (command.find('/') != std::string::npos) {
        struct stat info {};
        if (stat(command.c_str(), &info) != 0) {
            throw Error("exec: " + quoted + ": stat " + command + ": no such file or directory", {}, 127);
        }
        if (S_ISDIR(info.st_mode)) throw Error("exec: " + quoted + ": is a directory", {}, 126);
        if (access(command.c_str(), X_OK) != 0) throw Error("exec: " + quoted + ": permission denied", {}, 126);
        return command;
    }

    auto search = find_env(env, "PATH").value_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::istringstream directories(search);
    std::string directory;
    while (std::getline(directories, directory, ':')) {
        auto candidate = (directory.empty() ? std::string(".") : directory) + "/" + command;
        struct stat info {};
        if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) && access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    throw Error("exec: " + quoted + ": executable file not found in $PATH", {}, 127);
}

Launch::Launch(const LaunchPlan& plan, int stdout_fd, int stderr_fd) {
    int sync_pipe[2];
    int status_pipe[2];
    if (pipe2(sync_pipe, O_CLOEXEC) != 0) throw_errno("cannot create the start pipe");
    if (pipe2(status_pipe, O_CLOEXEC) != 0) {
        int saved = errno;
        close(sync_pipe[0]);
        close(sync_pipe[1]);
        throw_errno(saved, "cannot create the status pipe");
    }
    sync_write_ = sync_pipe[1];
    status_read_ = status_pipe[0];

    try {
        child_ = kernel::clone_child(plan.clone_flags, [&] {
            std::vector<int> keep = plan.inherited_fds;
            keep.insert(keep.end(), {sync_pipe[0], status_pipe[1], stdout_fd, stderr_fd, plan.terminal_socket});
            close_inherited_descriptors(std::move(keep));
            return container_main(plan, sync_pipe[0], status_pipe[1], stdout_fd, stderr_fd);
        });
    } catch (...) {
        close(sync_pipe[0]);
        close(status_pipe[1]);
        close(sync_write_);
        close(status_read_);
        throw;
    }
    close(sync_pipe[0]);
    close(status_pipe[1]);
}

Launch::~Launch() {
    if (sync_write_ >= 0) close(sync_write_);
    if (status_read_ >= 0) close(status_read_);
}

bool Launch::start(PhaseRecorder& phases, const std::string& pause_phase) {
    if (write(sync_write_, "1", 1) != 1) throw_errno("cannot signal the container process to start");
    close(sync_write_);
    sync_write_ = -1;
    return read_status(phases, pause_phase);
}

bool Launch::resume(PhaseRecorder& phases) { return read_status(phases, {}); }

// Reads status lines until end of file, or until the process reports `pause_phase`.
bool Launch::read_status(PhaseRecorder& phases, const std::string& pause_phase) {
    std::string buffer;
    char chunk[512];
    while (true) {
        auto newline = buffer.find('\n');
        if (newline == std::string::npos) {
            ssize_t count = read(status_read_, chunk, sizeof chunk);
            if (count < 0 && errno == EINTR) continue;
            if (count <= 0) break;
            buffer.append(chunk, static_cast<size_t>(count));
            continue;
        }
        auto line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        if (line.rfind("phase ", 0) == 0) {
            auto space = line.find(' ', 6);
            auto name = line.substr(6, space - 6);
            phases.mark_at(name, time_from_nanoseconds(line.substr(space + 1)));
            executed_ = executed_ || name == "exec";
            if (!pause_phase.empty() && name == pause_phase) return true;
        } else if (line.rfind("error ", 0) == 0) {
            failure_.emplace(parse_failure(line));
            close(status_read_);
            status_read_ = -1;
            return false;
        }
    }
    close(status_read_);
    status_read_ = -1;
    if (!executed_) {
        failure_.emplace("the container process ended before it could start the workload");
        return false;
    }
    return true;
}

}  // namespace isolab::container
