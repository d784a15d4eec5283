#pragma once
// Starting isolab in the background, reading its output and sending it signals.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/paths.hpp"
#include "runtime/core/unique_fd.hpp"

namespace isolab::testing {

// An isolab process started in the background whose stdout, and with `with_stderr` its
// stderr too, is read through a pipe.
class BackgroundIsolab {
public:
    BackgroundIsolab(const Paths& paths, const std::vector<std::string>& arguments, bool with_stderr = false) {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        output_.reset(ends[0]);
        pid_ = fork();
        if (pid_ == 0) {
            int null_input = open("/dev/null", O_RDONLY);
            dup2(null_input, 0);
            dup2(ends[1], 1);
            if (with_stderr) dup2(ends[1], 2);
            setenv("ISOLAB_ROOT", paths.root.c_str(), 1);
            setenv("ISOLAB_CACHE", paths.cache.c_str(), 1);
            std::vector<std::string> words = {ISOLAB_BINARY};
            words.insert(words.end(), arguments.begin(), arguments.end());
            std::vector<char*> argv;
            for (auto& word : words) argv.push_back(word.data());
            argv.push_back(nullptr);
            execv(ISOLAB_BINARY, argv.data());
            _exit(127);
        }
        close(ends[1]);
    }

    ~BackgroundIsolab() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }

    // Reads the output until it contains `text` or `limit` passed. Returns whether it did.
    bool wait_for_output(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(10)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (output_text_.find(text) == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return false;
        }
        return true;
    }

    void send(int signal_number) { kill(pid_, signal_number); }
    pid_t pid() const { return pid_; }

    // Waits up to 20 seconds for the exit and returns the exit code, 128 + N after a
    // death by signal N, or -1 on a timeout (the destructor kills the process then).
    int wait_exit() {
        for (int attempt = 0; attempt < 200; ++attempt) {
            // At end of file read_some returns at once, while isolab may still clean up.
            if (!read_some(100)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                while (read_some(100)) {
                }
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
        }
        return -1;
    }

    const std::string& output() const { return output_text_; }

private:
    // Reads what is available within `timeout_ms`. Returns false at end of file or timeout.
    bool read_some(int timeout_ms) {
        pollfd ready{output_.get(), POLLIN, 0};
        if (poll(&ready, 1, timeout_ms) <= 0) return false;
        char buffer[1024];
        ssize_t count = read(output_.get(), buffer, sizeof buffer);
        if (count <= 0) return false;
        output_text_.append(buffer, static_cast<size_t>(count));
        return true;
    }

    pid_t pid_ = -1;
    UniqueFd output_;
    std::string output_text_;
};

}  // namespace isolab::testing
