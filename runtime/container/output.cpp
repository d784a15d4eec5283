#include "runtime/container/output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/core/error.hpp"

namespace isolab::container {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

void write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t count = write(fd, data, size);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        data += count;
        size -= static_cast<size_t>(count);
    }
}

}  // namespace

OutputCapture::OutputCapture(OutputLineHandler handler, bool echo) : handler_(std::move(handler)), echo_(echo) {
    if (!handler_) return;
    if (pipe2(stdout_pipe_, O_CLOEXEC) != 0) throw_errno("cannot create the stdout pipe");
    if (pipe2(stderr_pipe_, O_CLOEXEC) != 0) {
        int saved = errno;
        close_fd(stdout_pipe_[0]);
        close_fd(stdout_pipe_[1]);
        throw_errno(saved, "cannot create the stderr pipe");
    }
}

OutputCapture::~OutputCapture() {
    close_fd(stdout_pipe_[1]);
    close_fd(stderr_pipe_[1]);
    if (reader_.joinable()) reader_.join();
    close_fd(stdout_pipe_[0]);
    close_fd(stderr_pipe_[0]);
}

void OutputCapture::start_reading() {
    if (!handler_) return;
    close_fd(stdout_pipe_[1]);
    close_fd(stderr_pipe_[1]);
    reader_ = std::thread([this] { read_lines(); });
}

void OutputCapture::finish() {
    if (reader_.joinable()) reader_.join();
}

void OutputCapture::read_lines() {
    // A reader of isolab's output that goes away (`isolab run ... | head -1`) must not kill
    // isolab with SIGPIPE before it has cleaned up the container. The signal is blocked in
    // this thread only, so every process isolab starts keeps the default. A failed write
    // drops only the echo, because the log still receives every line.
    sigset_t broken_pipe;
    sigemptyset(&broken_pipe);
    sigaddset(&broken_pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &broken_pipe, nullptr);

    pollfd descriptors[2] = {{stdout_pipe_[0], POLLIN, 0}, {stderr_pipe_[0], POLLIN, 0}};
    std::string pending[2];
    int open_streams = 2;
    char buffer[8192];

    while (open_streams > 0) {
        if (poll(descriptors, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int stream = 0; stream < 2; ++stream) {
            if (descriptors[stream].fd < 0 || descriptors[stream].revents == 0) continue;
            ssize_t count = read(descriptors[stream].fd, buffer, sizeof buffer);
            if (count < 0 && errno == EINTR) continue;
            auto when = Clock::now();
            if (count <= 0) {
                if (!pending[stream].empty()) handler_(pending[stream], stream == 1, when);
                pending[stream].clear();
                descriptors[stream].fd = -1;
                --open_streams;
                continue;
            }
            if (echo_) write_all(stream == 1 ? STDERR_FILENO : STDOUT_FILENO, buffer, static_cast<size_t>(count));
            pending[stream].append(buffer, static_cast<size_t>(count));
            size_t newline;
            while ((newline = pending[stream].find('\n')) != std::string::npos) {
                handler_(std::string_view(pending[stream]).substr(0, newline), stream == 1, when);
                pending[stream].erase(0, newline + 1);
            }
        }
    }
}

}  // namespace isolab::container
