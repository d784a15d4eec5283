#pragma once
// A container running in the foreground (`isolab run --init --rm --name NAME ...`) as a
// child process of the test, for the commands that act on running containers, and ways
// to run isolab on a test-made pseudo-terminal or with given stdin.
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/record.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::testing {

// Replaces the calling (forked) process with build/isolab and `arguments`.
[[noreturn]] inline void exec_isolab(const Paths& paths, const std::vector<std::string>& arguments) {
    setenv("ISOLAB_ROOT", paths.root.c_str(), 1);
    setenv("ISOLAB_CACHE", paths.cache.c_str(), 1);
    std::string binary = ISOLAB_BINARY;
    std::vector<std::string> copies = arguments;
    std::vector<char*> argv{binary.data()};
    for (auto& argument : copies) argv.push_back(argument.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
}

inline int wait_exit_code(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class RunningContainer {
public:
    // Starts `isolab run --init --rm --name NAME [run_options] busybox COMMAND` and waits
    // until its record shows it running. isolab-init as pid 1 lets SIGTERM end the workload.
    RunningContainer(const Paths& paths, std::string name, std::vector<std::string> run_options = {},
                     std::vector<std::string> command = {"sleep", "60"})
        : paths_(paths), name_(std::move(name)) {
        std::vector<std::string> arguments{"run", "--init", "--rm", "--name", name_};
        arguments.insert(arguments.end(), run_options.begin(), run_options.end());
        arguments.push_back("busybox");
        arguments.insert(arguments.end(), command.begin(), command.end());
        runner_ = fork();
        if (runner_ == 0) {
            int null_fd = open("/dev/null", O_RDWR);
            dup2(null_fd, 0);
            dup2(null_fd, 1);
            exec_isolab(paths, arguments);
        }
        for (int attempt = 0; attempt < 1000; ++attempt) {
            auto container = container::find_container(paths_, name_);
            if (container && container->state.status == "running" && container->state.pid > 0) {
                id_ = container->config.id;
                pid_ = container->state.pid;
                // The workload runs once isolab-init executed it; give it a moment.
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                return;
            }
            if (waitpid(runner_, nullptr, WNOHANG) == runner_) {
                runner_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    ~RunningContainer() { stop(); }
    RunningContainer(const RunningContainer&) = delete;
    RunningContainer& operator=(const RunningContainer&) = delete;

    bool started() const { return pid_ > 0; }
    const std::string& id() const { return id_; }
    pid_t pid() const { return pid_; }   // host pid of the container's first process

    // True while isolab run and the container's first process both still run.
    bool still_running() const { return runner_ > 0 && waitpid(runner_, nullptr, WNOHANG) == 0 && kill(pid_, 0) == 0; }

    // Ends the foreground run with SIGTERM (forwarded to the container) and waits for it.
    int stop() {
        if (runner_ <= 0) return -1;
        kill(runner_, SIGTERM);
        int code = wait_exit_code(runner_);
        runner_ = -1;
        return code;
    }

private:
    Paths paths_;
    std::string name_;
    std::string id_;
    pid_t runner_ = -1;
    pid_t pid_ = -1;
};

// Forks isolab with `slave` as its controlling terminal, stdin, stdout and stderr.
inline pid_t start_isolab_on_terminal(const Paths& paths, const std::vector<std::string>& arguments, int master, int slave) {
    pid_t child = fork();
    if (child == 0) {
        close(master);
        setsid();
        ioctl(slave, TIOCSCTTY, 0);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        exec_isolab(paths, arguments);
    }
    return child;
}

struct TerminalResult {
    int exit_code = -1;
    std::string output;    // everything written to the terminal
};

// Runs isolab with stdin, stdout and stderr on a pseudo-terminal the test creates with
// the given window size, and collects what appears on it.
inline TerminalResult run_isolab_on_terminal(const Paths& paths, const std::vector<std::string>& arguments,
                                            unsigned short rows, unsigned short columns) {
    int master = -1;
    int slave = -1;
    winsize size{rows, columns, 0, 0};
    TerminalResult result;
    if (openpty(&master, &slave, nullptr, nullptr, &size) != 0) return result;
    pid_t child = start_isolab_on_terminal(paths, arguments, master, slave);
    close(slave);
    char buffer[4096];
    ssize_t count;
    // read() on the master fails with EIO once no process holds the terminal anymore.
    while ((count = read(master, buffer, sizeof buffer)) > 0) result.output.append(buffer, static_cast<size_t>(count));
    close(master);
    result.exit_code = wait_exit_code(child);
    return result;
}

// Runs isolab with `input` on its stdin (a pipe) and returns its exit code and stdout.
inline TerminalResult run_isolab_with_input(const Paths& paths, const std::vector<std::string>& arguments,
                                           const std::string& input) {
    int to_child[2];
    int from_child[2];
    TerminalResult result;
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return result;
    pid_t child = fork();
    if (child == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        exec_isolab(paths, arguments);
    }
    close(to_child[0]);
    close(from_child[1]);
    if (write(to_child[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) result.output = "(short write)";
    close(to_child[1]);
    char buffer[4096];
    ssize_t count;
    while ((count = read(from_child[0], buffer, sizeof buffer)) > 0) result.output.append(buffer, static_cast<size_t>(count));
    close(from_child[0]);
    result.exit_code = wait_exit_code(child);
    return result;
}

}  // namespace isolab::testing
