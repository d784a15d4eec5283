#include "runtime/container/exec.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "runtime/container/launch.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/running.hpp"
#include "runtime/container/status.hpp"
#include "runtime/container/security.hpp"
#include "runtime/container/signal_forwarding.hpp"
#include "runtime/container/status_pipe.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/linux/namespaces.hpp"
#include "runtime/linux/pty.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

// A descriptor closed by the destructor.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() { reset(); }
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// The namespaces joined, in order: the cgroup namespace after the cgroup itself, and the
// mount namespace last because it changes what /proc/PID means.
constexpr std::array<std::pair<const char*, int>, 6> joined_namespaces{{{"cgroup", CLONE_NEWCGROUP},
                                                                        {"ipc", CLONE_NEWIPC},
                                                                        {"uts", CLONE_NEWUTS},
                                                                        {"net", CLONE_NEWNET},
                                                                        {"pid", CLONE_NEWPID},
                                                                        {"mnt", CLONE_NEWNS}}};

// Everything the helper processes need, gathered before the fork.
struct ExecPlan {
    std::vector<FileDescriptor> namespaces;       // same order as joined_namespaces
    std::vector<fs::path> cgroup_procs;           // cgroup.procs files of the container's cgroup
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string user;
    bool home_from_user = false;
    std::string working_dir;
    ProcessSecurity security;
    int terminal_fd = -1;
    int output_fd = -1;                           // >= 0: stdout and stderr go here, stdin is /dev/null
    bool own_process_group = false;               // the command leads a process group, killed as one
    bool interactive = false;
    bool detach = false;
};

[[noreturn]] void not_running(const std::string& name) {
    throw container_not_running(name);
}

ExecPlan make_plan(const StoredContainer& container, const ExecOptions& options) {
    ExecPlan plan;
    auto proc = fs::path("/proc") / std::to_string(container.state.pid);
    for (const auto& [name, flag] : joined_namespaces) {
        int fd = open((proc / "ns" / name).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) not_running(options.container);
        plan.namespaces.emplace_back(fd);
    }
    // The descriptors refer to the container only if its process still runs now.
    if (!process_in_container(container.state.pid, container.config.id)) not_running(options.container);

    for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + container.config.id)) {
        std::error_code error;
        if (fs::exists(directory / "cgroup.procs", error)) plan.cgroup_procs.push_back(directory / "cgroup.procs");
    }

    const auto& request = container.config.request;
    plan.argv = options.command;
    plan.env = merge_env(container.config.env, options.env);
    plan.user = options.user.empty() ? container.config.user : options.user;
    // NOTE: a HOME from the image's Env is not distinguished from the default HOME=/root,
    // so -u takes the user's home unless -e or the run request set HOME.
    plan.home_from_user = !options.user.empty() && !find_env(request.env, "HOME") && !find_env(options.env, "HOME");
    plan.working_dir = options.working_dir.empty() ? container.config.working_dir : options.working_dir;
    if (plan.working_dir.empty()) plan.working_dir = "/";
    plan.security = process_security(request);
    plan.interactive = options.interactive;
    plan.detach = options.detach;
    return plan;
}

void check_options(const ExecOptions& options) {
    if (geteuid() != 0) throw Error("exec needs root", "run isolab as root (sudo isolab exec ...)");
    if (options.command.empty()) throw Error("no command given", "name the command after the container: isolab exec C sh");
    if (!options.working_dir.empty() && options.working_dir.front() != '/') {
        throw Error("invalid working directory '" + options.working_dir + "': it must be an absolute path", "e.g. -w /app");
    }
    if (options.detach && (options.tty || options.interactive)) {
        throw Error("-d cannot be combined with -i or -t", "drop -i and -t to run the command in the background");
    }
    for (const auto& entry : options.env) {
        if (entry.empty() || entry.front() == '=') {
            throw Error("invalid environment variable '" + entry + "': the name is empty", "use -e NAME=value");
        }
    }
}

void set_exec_stdio(const ExecPlan& plan) {
    if (plan.terminal_fd >= 0) {
        kernel::attach_terminal(plan.terminal_fd);
        return;
    }
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) throw_errno("cannot open /dev/null in the container");
    if (plan.output_fd >= 0) {
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(plan.output_fd, STDOUT_FILENO) < 0 ||
            dup2(plan.output_fd, STDERR_FILENO) < 0) {
            throw_errno("cannot set stdin, stdout and stderr");
        }
        return;
    }
    if (!plan.interactive && dup2(null_fd, STDIN_FILENO) < 0) throw_errno("cannot set stdin");
    if (plan.detach && (dup2(null_fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0)) {
        throw_errno("cannot set stdout and stderr");
    }
}

// The command's process, already inside every namespace: sets up and executes the command.
[[noreturn]] void command_main(const ExecPlan& plan, int status_fd) {
    try {
        if (plan.own_process_group && setpgid(0, 0) != 0) throw_errno("cannot start a process group");
        set_exec_stdio(plan);
        if (chdir(plan.working_dir.c_str()) != 0) {
            throw Error("cannot enter the working directory " + plan.working_dir + ": " + std::strerror(errno), {}, 126);
        }
        auto env = plan.env;
        enter_process_security(plan.security, plan.user, plan.home_from_user, env);
        auto path = find_executable(plan.argv.front(), env);
        auto argv = c_strings(plan.argv);
        auto envp = c_strings(env);
        syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(path.c_str(), argv.data(), envp.data());
        int saved = errno;
        throw Error("exec: \"" + plan.argv.front() + "\": " + std::strerror(saved), {}, saved == ENOENT ? 127 : 126);
    } catch (const Error& error) {
        // As with docker exec, a command that cannot be started inside the container
        // (unknown user, missing working dir) exits 126 unless it was not found (127).
        int code = error.exit_code() == 127 ? 127 : 126;
        report_failure(status_fd, Error(error.what(), error.hint(), code));
        _exit(code);
    } catch (const std::exception& error) {
        report_failure(status_fd, Error(error.what(), {}, 126));
        _exit(126);
    }
}

// The helper process: joins the cgroup and the namespaces, forks the command's process
// into the pid namespace, reports its host pid and waits for it (unless detached).
[[noreturn]] void helper_main(const ExecPlan& plan, int status_fd) {
    pid_t command = -1;
    try {
        for (const auto& procs : plan.cgroup_procs) kernel::write_cgroup_file(procs, std::to_string(getpid()));
        for (size_t i = 0; i < joined_namespaces.size(); ++i) {
            if (setns(plan.namespaces[i].get(), joined_namespaces[i].second) != 0) {
                throw_errno(std::string("cannot join the container's ") + joined_namespaces[i].first + " namespace");
            }
        }
        command = fork();
        if (command < 0) throw_errno("fork inside the container");
        if (command == 0) command_main(plan, status_fd);
    } catch (const Error& error) {
        report_failure(status_fd, error);
        _exit(error.exit_code());
    }
    write_all(status_fd, "pid " + std::to_string(command) + "\n");
    close(status_fd);
    if (plan.detach) _exit(0);
    int status = 0;
    while (waitpid(command, &status, 0) < 0) {
        if (errno != EINTR) _exit(125);
    }
    _exit(kernel::exit_code_from_status(status));
}

// Reads the status pipe to its end: the command's pid, and a failure if there was one.
std::optional<Error> read_status(int status_fd, pid_t& command) {
    std::istringstream lines(read_status_messages(status_fd));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("pid ", 0) == 0) command = std::stoi(line.substr(4));
        if (line.rfind("error ", 0) == 0) return parse_failure(line);
    }
    return std::nullopt;
}

// The helper process and the host pid of the command it runs.
struct StartedExec {
    kernel::ChildProcess helper;
    pid_t command = -1;
};

// Forks the helper for `plan` and waits until the command runs. Throws the failure the
// helper or the command reported.
StartedExec start_exec(const ExecPlan& plan) {
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) throw_errno("cannot create the exec status pipe");
    FileDescriptor status_read(status_pipe[0]);
    FileDescriptor status_write(status_pipe[1]);

    pid_t helper_pid = fork();
    if (helper_pid < 0) throw_errno("cannot fork the exec helper");
    if (helper_pid == 0) {
        status_read.reset();
        helper_main(plan, status_write.get());
    }
    StartedExec started{kernel::ChildProcess(helper_pid)};
    status_write.reset();

    auto failure = read_status(status_read.get(), started.command);
    if (failure) {
        started.helper.wait();
        throw *failure;
    }
    return started;
}

// Appends what `fd` has to `output`, keeping at most `max_output` bytes. Returns false at
// end of file or on an error other than EINTR and EAGAIN.
bool read_available(int fd, std::string& output, std::size_t max_output, bool& truncated) {
    char buffer[4096];
    while (true) {
        ssize_t count = read(fd, buffer, sizeof buffer);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return errno == EAGAIN;
        if (count == 0) return false;
        auto kept = std::min(static_cast<std::size_t>(count), max_output - std::min(max_output, output.size()));
        output.append(buffer, kept);
        if (kept < static_cast<std::size_t>(count)) truncated = true;
    }
}

}  // namespace

int exec(const Paths& paths, const ExecOptions& options) {
    check_options(options);
    auto container = find_running_container(paths, options.container);
    auto plan = make_plan(container, options);

    std::unique_ptr<kernel::TerminalRelay> terminal;
    if (options.tty) {
        terminal = std::make_unique<kernel::TerminalRelay>(options.interactive,
                                                           "/proc/" + std::to_string(container.state.pid) + "/root");
        plan.terminal_fd = terminal->slave();
    }

    auto started = start_exec(plan);
    if (terminal) terminal->close_slave();
    spdlog::debug("exec: {} runs as host pid {} in container {}", options.command.front(), started.command,
                  container.config.id);
    if (options.detach) {
        started.helper.wait();
        return 0;
    }

    SignalForwarding forwarding(started.command);
    if (terminal) return terminal->relay([&] { return started.helper.try_wait(); });
    return started.helper.wait();
}

ProbeResult exec_probe(const StoredContainer& container, const std::vector<std::string>& command,
                       std::chrono::nanoseconds timeout, std::size_t max_output, std::stop_token stop) {
    ExecOptions options;
    options.container = container.config.name;
    options.command = command;
    auto plan = make_plan(container, options);

    int output_pipe[2];
    if (pipe2(output_pipe, O_CLOEXEC) != 0) throw_errno("cannot create the output pipe of the check");
    FileDescriptor output_read(output_pipe[0]);
    FileDescriptor output_write(output_pipe[1]);
    plan.output_fd = output_write.get();
    plan.own_process_group = true;
    auto started = start_exec(plan);
    output_write.reset();
    fcntl(output_read.get(), F_SETFL, O_NONBLOCK);

    ProbeResult result;
    bool open = true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (open) {
            pollfd ready{output_read.get(), POLLIN, 0};
            if (poll(&ready, 1, 20) > 0) open = read_available(output_read.get(), result.output, max_output, result.truncated);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        int code = started.helper.try_wait();
        if (code >= 0) {
            // Output written just before the exit is still in the pipe.
            if (open) read_available(output_read.get(), result.output, max_output, result.truncated);
            result.exit_code = code;
            return result;
        }
        result.cancelled = stop.stop_requested();
        result.timed_out = !result.cancelled && std::chrono::steady_clock::now() >= deadline;
        if (result.cancelled || result.timed_out) {
            // The command leads its own process group, so its children die with it.
            kill(-started.command, SIGKILL);
            kill(started.command, SIGKILL);
            result.exit_code = started.helper.wait();
            return result;
        }
    }
}

}  // namespace isolab::container
