#pragma once
// Terminals for `run -t` and `exec -t`. A pseudo-terminal pair's slave end becomes the
// workload's controlling terminal. On the caller's side a relay copies bytes between the
// caller's terminal and the master end, keeps the caller's terminal in raw mode, and
// passes its window size through, at the start and on every SIGWINCH.
#include <sys/ioctl.h>
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

// The window size of the caller's stdin, or of its stdout, when either is a terminal.
std::optional<winsize> caller_window_size();

// A socket pair over which a container's first process sends the master end of the
// terminal it opened in its own devpts, once its rootfs is in place.
class TerminalHandoff {
public:
    TerminalHandoff();
    ~TerminalHandoff();
    TerminalHandoff(const TerminalHandoff&) = delete;
    TerminalHandoff& operator=(const TerminalHandoff&) = delete;

    // The end the container process sends on.
    int child_socket() const { return child_; }
    // Closes this process's copy of the child's end, once the child has its own.
    void close_child_socket();
    // Receives the master end. Throws Error when the child closed the socket without one.
    int receive_master();

private:
    int parent_ = -1;
    int child_ = -1;
};

// Runs in the container process: opens a pair from /dev/pts/ptmx of the current root,
// gives it `size`, sends the master end over `socket` and attaches the slave end as
// stdin, stdout, stderr and controlling terminal. Throws Error.
void open_terminal_and_send(int socket, const std::optional<winsize>& size);

// A pseudo-terminal pair (both ends close-on-exec) with the caller's window size, and
// the relay between it and the caller's stdin and stdout.
class TerminalRelay {
public:
    // Opens the pair and copies the window size of stdin (or stdout) when that is a
    // terminal. With `forward_input`, bytes read from stdin go to the workload. With a
    // `container_root` (such as /proc/PID/root), the pair comes from that root's
    // /dev/pts/ptmx, so inside the container the terminal has a name (tty, ttyname).
    explicit TerminalRelay(bool forward_input, const std::filesystem::path& container_root = {});
    // Relays through a master end opened elsewhere (see TerminalHandoff), taking ownership.
    TerminalRelay(bool forward_input, int master);
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
