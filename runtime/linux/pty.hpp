#pragma once
// Terminals for `run -t` and `exec -t`: a pseudo-terminal pair whose slave end becomes
// the workload's controlling terminal, and the relay on the caller's side that copies
// bytes between the caller's terminal and the master end, puts the caller's terminal
// in raw mode and passes its window size through (now and on every SIGWINCH).
#include <termios.h>

#include <filesystem>
#include <functional>
#include <optional>

namespace isolab::kernel {

// Makes the calling process a session leader with `terminal_fd` as its controlling
// terminal and as stdin, stdout and stderr. Throws Error.
void attach_terminal(int terminal_fd);

// The caller's terminal on stdin in raw mode for as long as the object lives; the
// destructor restores the saved mode. Does nothing when stdin is not a terminal.
class RawMode {
public:
    RawMode();
    ~RawMode();
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;

private:
    std::optional<termios> saved_;
};

// A pseudo-terminal pair (both ends close-on-exec) with the caller's window size, and
// the relay between it and the caller's stdin and stdout.
class TerminalRelay {
public:
    // Opens the pair and copies the window size of stdin (or stdout) when that is a
    // terminal. With `forward_input`, bytes read from stdin go to the workload. With a
    // `container_root` (such as /proc/PID/root), the pair comes from that root's
    // /dev/pts/ptmx, so inside the container the terminal has a name (tty, ttyname).
    explicit TerminalRelay(bool forward_input, const std::filesystem::path& container_root = {});
    ~TerminalRelay();
    TerminalRelay(const TerminalRelay&) = delete;
    TerminalRelay& operator=(const TerminalRelay&) = delete;

    // The end the workload gets as its terminal.
    int slave() const { return slave_; }
    // Closes this process's copy of the slave end, once the workload has its own.
    void close_slave();

    // Puts the caller's terminal in raw mode, forwards SIGWINCH and copies bytes until
    // `poll_exit` returns an exit code (0 or more), then copies what the workload wrote
    // before it ended and returns that code. The terminal mode and the SIGWINCH handler
    // are restored on every way out.
    int relay(const std::function<int()>& poll_exit);

private:
    void copy_window_size();

    int master_ = -1;
    int slave_ = -1;
    bool forward_input_ = false;
};

}  // namespace isolab::kernel
