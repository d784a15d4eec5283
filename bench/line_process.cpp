#include "bench/line_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/core/error.hpp"
#include "runtime/core/interrupt.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

namespace {

// Splits complete lines off `buffer` and hands them to `on_line`.
void deliver_lines(std::string& buffer, const ProcessLineHandler& on_line, Clock::time_point when) {
    std::size_t start = 0;
    for (auto newline = buffer.find('\n'); newline != std::string::npos; newline = buffer.find('\n', start)) {
        on_line(std::string_view(buffer).substr(start, newline - start), when);
        start = newline + 1;
    }
    buffer.erase(0, start);
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, int output) {
    setpgid(0, 0);
    dup2(output, STDOUT_FILENO);
    dup2(output, STDERR_FILENO);
    int null_input = open("/dev/null", O_RDONLY);
    if (null_input >= 0) dup2(null_input, STDIN_FILENO);

    std::vector<char*> arguments;
    for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
    arguments.push_back(nullptr);
    execvp(arguments[0], arguments.data());
    _exit(errno == ENOENT ? 127 : 126);
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// Reads what is available; false at end of file.
bool read_available(int fd, std::string& buffer) {
    char chunk[4096];
    while (true) {
        ssize_t count = read(fd, chunk, sizeof chunk);
        if (count > 0) {
            buffer.append(chunk, static_cast<std::size_t>(count));
            continue;
        }
        if (count < 0 && errno == EINTR) continue;
        return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

}  // namespace

int run_streaming(const std::vector<std::string>& argv, const ProcessLineHandler& on_line,
                  const StreamOptions& options) {
    if (argv.empty()) throw Error("run_streaming: empty argument list");
    spdlog::debug("compare: run {}", argv[0]);
    // The child leads its own process group, so a terminal's Ctrl-C does not reach it:
    // an interrupt ends it here.
    InterruptGuard interrupts;

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe");
    pid_t child = fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) exec_child(argv, pipe_fds[1]);
    close(pipe_fds[1]);
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);

    auto deadline = Clock::now() + options.timeout;
    std::string buffer;
    int status = 0;
    bool exited = false;
    bool open_pipe = true;
    while (!exited) {
        pollfd descriptor{pipe_fds[0], POLLIN, 0};
        if (open_pipe) poll(&descriptor, 1, static_cast<int>(options.tick_interval.count()));
        else usleep(static_cast<useconds_t>(options.tick_interval.count() * 1000));

        if (open_pipe) {
            open_pipe = read_available(pipe_fds[0], buffer);
            deliver_lines(buffer, on_line, Clock::now());
        }
        if (options.on_tick) options.on_tick(child);
        exited = waitpid(child, &status, WNOHANG) == child;

        auto kill_child = [&] {
            kill(-child, SIGKILL);
            waitpid(child, &status, 0);
            close(pipe_fds[0]);
        };
        if (!exited && InterruptGuard::requested()) {
            kill_child();
            throw Error("interrupted: killed " + argv[0], {}, InterruptGuard::exit_code());
        }
        if (!exited && Clock::now() > deadline) {
            kill_child();
            throw Error(argv[0] + " timed out after " + std::to_string(options.timeout.count() / 1000) + " s",
                        "check that it runs on its own; it was killed");
        }
    }

    // A grandchild (conmon) may keep the pipe open after the tool exits: take what is
    // there now and stop.
    if (open_pipe) read_available(pipe_fds[0], buffer);
    if (!buffer.empty()) buffer += '\n';
    deliver_lines(buffer, on_line, Clock::now());
    close(pipe_fds[0]);
    return decode_status(status);
}

}  // namespace isolab::bench
