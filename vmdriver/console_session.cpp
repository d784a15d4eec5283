// `isolab vm console`: the terminal attached to a running VM's serial console.
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/container/status.hpp"
#include "vmdriver/lifecycle.hpp"

namespace isolab::vm {

namespace {

// Ctrl-] ends the session, as in virsh console and telnet.
constexpr char kDetachKey = 0x1d;

// Puts the terminal on stdin into raw mode (each key goes to the guest as typed, Ctrl-C
// included) and restores it in the destructor. Does nothing when stdin is no terminal.
class RawTerminal {
public:
    RawTerminal() {
        if (isatty(STDIN_FILENO) != 1 || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        struct termios raw = saved_;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    struct termios saved_ {};
    bool active_ = false;
};

// A non-blocking stream on the domain's console, aborted and freed by the destructor.
class ConsoleStream {
public:
    ConsoleStream(libvirt::Connection& connection, virDomainPtr domain, const std::string& name) {
        stream_ = virStreamNew(connection.get(), VIR_STREAM_NONBLOCK);
        if (stream_ == nullptr) libvirt::throw_last_error("cannot create a stream for the console of " + name);
        // Without VIR_DOMAIN_CONSOLE_FORCE: a second session gets a clear error instead of
        // taking the console from the first.
        if (virDomainOpenConsole(domain, nullptr, stream_, 0) < 0) {
            libvirt::throw_last_error("cannot open the serial console of " + name);
        }
    }
    ~ConsoleStream() {
        virStreamAbort(stream_);
        virStreamFree(stream_);
        virResetLastError();
    }
    ConsoleStream(const ConsoleStream&) = delete;
    ConsoleStream& operator=(const ConsoleStream&) = delete;

    virStreamPtr get() const { return stream_; }

private:
    virStreamPtr stream_ = nullptr;
};

void write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t count = write(fd, data, size);
        if (count <= 0) return;
        data += count;
        size -= static_cast<size_t>(count);
    }
}

}  // namespace

void require_console_free(const VmRecord& record, bool run_process_alive) {
    if (record.detached || record.owner_pid <= 0 || !run_process_alive) return;
    throw Error(fmt::format("the console of VM {} belongs to the terminal running `isolab vm run` (pid {})", record.name,
                            record.owner_pid),
                "use that terminal, or start the VM with `isolab vm run -d` to attach with `isolab vm console`", 1);
}

std::string attach_console(const Paths& paths, const std::string& name) {
    Connections connections;
    VmView view = require_running(paths, name, connections);
    require_console_free(view.record, container::process_alive(view.record.owner_pid, view.record.owner_start_ticks));
    libvirt::Connection& connection = connections.get(view.record.connect_uri);
    libvirt::DomainReference domain(connection, view.record.uuid);
    if (!domain.exists()) throw Error("VM " + view.record.name + " stopped before its console could be opened", {}, 1);
    ConsoleStream stream(connection, domain.get(), view.record.name);

    std::fprintf(stderr, "Connected to the console of %s; press Ctrl-] to detach.\r\n", view.record.name.c_str());
    RawTerminal terminal;
    char buffer[4096];
    while (true) {
        struct pollfd input = {STDIN_FILENO, POLLIN, 0};
        // The stream has no file descriptor to poll, so it is read every 20 ms.
        int ready = poll(&input, 1, 20);
        if (ready > 0 && (input.revents & (POLLIN | POLLHUP)) != 0) {
            ssize_t count = read(STDIN_FILENO, buffer, sizeof buffer);
            if (count <= 0) return "end of input";
            std::string_view typed(buffer, static_cast<size_t>(count));
            auto detach = typed.find(kDetachKey);
            std::string_view sent = typed.substr(0, detach);
            if (!sent.empty() && virStreamSend(stream.get(), sent.data(), sent.size()) < 0) {
                libvirt::throw_last_error("cannot write to the console of " + view.record.name);
            }
            if (detach != std::string_view::npos) return "detached";
        }
        while (true) {
            int count = virStreamRecv(stream.get(), buffer, sizeof buffer);
            if (count > 0) {
                write_all(STDOUT_FILENO, buffer, static_cast<size_t>(count));
                continue;
            }
            if (count == -2) break;  // nothing more for now
            virResetLastError();
            return "the guest stopped";
        }
    }
}

}  // namespace isolab::vm
