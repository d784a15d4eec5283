#include "runtime/linux/pty.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace {

std::atomic<bool> window_changed{false};

void note_window_change(int) { window_changed = true; }

// Installs the SIGWINCH handler for the relay's lifetime. Without SA_RESTART, so poll
// returns at once when the window changes.
class WindowChangeHandler {
public:
    WindowChangeHandler() {
        struct sigaction action {};
        action.sa_handler = note_window_change;
        sigemptyset(&action.sa_mask);
        sigaction(SIGWINCH, &action, &previous_);
    }
    ~WindowChangeHandler() { sigaction(SIGWINCH, &previous_, nullptr); }
    WindowChangeHandler(const WindowChangeHandler&) = delete;
    WindowChangeHandler& operator=(const WindowChangeHandler&) = delete;

private:
    struct sigaction previous_ {};
};

bool write_fully(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t count = write(fd, data, size);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return false;
        data += count;
        size -= static_cast<size_t>(count);
    }
    return true;
}

// Copies what is readable on `from` to `to`. Returns false at end of file or on an
// error; a master end returns EIO once no process holds the slave end.
bool copy_available(int from, int to) {
    char buffer[8192];
    ssize_t count = read(from, buffer, sizeof buffer);
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (count <= 0) return false;
    write_fully(to, buffer, static_cast<size_t>(count));
    return true;
}

// Opens /dev/pts/ptmx of the container's root. The path is resolved inside that root, so
// a symbolic link in the container cannot lead to a host file, and it is opened for I/O
// only after it proved to be a ptmx device (character device 5:2).
int open_container_ptmx(const std::filesystem::path& container_root) {
    int root = open(container_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw_errno("cannot open the container root " + container_root.string());
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int path_fd = static_cast<int>(syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof how));
    int saved = errno;
    close(root);
    if (path_fd < 0) throw_errno(saved, "cannot find /dev/pts/ptmx in the container");

    struct stat info {};
    bool is_ptmx = fstat(path_fd, &info) == 0 && S_ISCHR(info.st_mode) && major(info.st_rdev) == 5 && minor(info.st_rdev) == 2;
    int master = is_ptmx ? open(("/proc/self/fd/" + std::to_string(path_fd)).c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    saved = errno;
    close(path_fd);
    if (!is_ptmx) throw Error("/dev/pts/ptmx in the container is not a pseudo-terminal multiplexer");
    if (master < 0) throw_errno(saved, "cannot open /dev/pts/ptmx in the container");
    return master;
}

// Unlocks and opens the slave end of `master`, or returns -1 with errno set. TIOCGPTPEER
// opens it in the master's own devpts instance without a path lookup.
int open_slave_end(int master) {
    if (unlockpt(master) != 0) return -1;
    return ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

// A one-byte message with room for one descriptor (SCM_RIGHTS) in its control data.
struct DescriptorMessage {
    DescriptorMessage() {
        message.msg_iov = &data;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
    }
    DescriptorMessage(const DescriptorMessage&) = delete;
    DescriptorMessage& operator=(const DescriptorMessage&) = delete;

    char byte = 0;
    iovec data{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
};

}  // namespace

void attach_terminal(int terminal_fd) {
    if (setsid() < 0) throw_errno("setsid for the terminal");
    if (ioctl(terminal_fd, TIOCSCTTY, 0) != 0) throw_errno("cannot make the terminal the controlling terminal");
    for (int target : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (dup2(terminal_fd, target) < 0) throw_errno("cannot connect the terminal to descriptor " + std::to_string(target));
    }
}

RawMode::RawMode() {
    termios mode{};
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &mode) != 0) return;
    saved_ = mode;
    cfmakeraw(&mode);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &mode) != 0) {
        spdlog::warn("cannot put the terminal in raw mode: {}", std::strerror(errno));
        saved_.reset();
    }
}

RawMode::~RawMode() {
    if (saved_) tcsetattr(STDIN_FILENO, TCSANOW, &*saved_);
}

TerminalRelay::TerminalRelay(bool forward_input, const std::filesystem::path& container_root) : forward_input_(forward_input) {
    if (container_root.empty()) {
        if (openpty(&master_, &slave_, nullptr, nullptr, nullptr) != 0) throw_errno("cannot open a pseudo-terminal");
        fcntl(master_, F_SETFD, FD_CLOEXEC);
        fcntl(slave_, F_SETFD, FD_CLOEXEC);
    } else {
        master_ = open_container_ptmx(container_root);
        slave_ = open_slave_end(master_);
        if (slave_ < 0) {
            int saved = errno;
            close(master_);
            throw_errno(saved, "cannot open the container's pseudo-terminal");
        }
    }
    copy_window_size();
}

TerminalRelay::TerminalRelay(bool forward_input, int master) : master_(master), forward_input_(forward_input) {}

std::optional<winsize> caller_window_size() {
    winsize size{};
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) return size;
    return std::nullopt;
}

TerminalHandoff::TerminalHandoff() {
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) throw_errno("cannot create the terminal socket pair");
    parent_ = sockets[0];
    child_ = sockets[1];
}

TerminalHandoff::~TerminalHandoff() {
    close_child_socket();
    if (parent_ >= 0) close(parent_);
}

void TerminalHandoff::close_child_socket() {
    if (child_ >= 0) close(child_);
    child_ = -1;
}

int TerminalHandoff::receive_master() {
    DescriptorMessage carrier;
    ssize_t count;
    while ((count = recvmsg(parent_, &carrier.message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    cmsghdr* header = count > 0 ? CMSG_FIRSTHDR(&carrier.message) : nullptr;
    if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
        throw Error("the container process sent no terminal");
    }
    int master = -1;
    std::memcpy(&master, CMSG_DATA(header), sizeof master);
    return master;
}

void open_terminal_and_send(int socket, const std::optional<winsize>& size) {
    int master = open_container_ptmx("/");
    int slave = open_slave_end(master);
    if (slave < 0) throw_errno("cannot open a pseudo-terminal in the container");
    if (size) ioctl(master, TIOCSWINSZ, &*size);

    DescriptorMessage carrier;
    cmsghdr* header = CMSG_FIRSTHDR(&carrier.message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &master, sizeof master);
    if (sendmsg(socket, &carrier.message, 0) != 1) throw_errno("cannot send the terminal to isolab");
    close(master);
    attach_terminal(slave);
}

TerminalRelay::~TerminalRelay() {
    close_slave();
    if (master_ >= 0) close(master_);
}

void TerminalRelay::close_slave() {
    if (slave_ >= 0) close(slave_);
    slave_ = -1;
}

void TerminalRelay::copy_window_size() {
    winsize size{};
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &size) != 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) return;
    if (ioctl(master_, TIOCSWINSZ, &size) != 0) spdlog::debug("cannot set the window size: {}", std::strerror(errno));
}

int TerminalRelay::relay(const std::function<int()>& poll_exit) {
    WindowChangeHandler window_handler;
    RawMode raw_mode;
    bool input_open = forward_input_;
    bool output_open = true;
    int exit_code = -1;

    while (exit_code < 0) {
        if (window_changed.exchange(false)) copy_window_size();
        pollfd descriptors[2] = {{output_open ? master_ : -1, POLLIN, 0}, {input_open ? STDIN_FILENO : -1, POLLIN, 0}};
        int ready = poll(descriptors, 2, 50);
        if (ready < 0 && errno != EINTR) throw_errno("poll on the terminal");
        if (ready > 0 && descriptors[0].revents != 0) output_open = copy_available(master_, STDOUT_FILENO);
        if (ready > 0 && descriptors[1].revents != 0 && !copy_available(STDIN_FILENO, master_)) {
            // End of input: the terminal's end-of-file character tells the workload, as ^D would.
            const char end_of_file = 4;
            write_fully(master_, &end_of_file, 1);
            input_open = false;
        }
        exit_code = poll_exit();
    }

    // The workload has ended; pass on what it wrote and nobody read yet.
    int flags = fcntl(master_, F_GETFL);
    fcntl(master_, F_SETFL, flags | O_NONBLOCK);
    char buffer[8192];
    ssize_t count;
    while (output_open && (count = read(master_, buffer, sizeof buffer)) > 0) write_fully(STDOUT_FILENO, buffer, static_cast<size_t>(count));
    return exit_code;
}

}  // namespace isolab::kernel
