#include "vmdriver/network/holder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "vmdriver/record.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The descriptor number the holder finds its ready pipe at.
constexpr int kHolderReadyFd = 3;
// How often the holder checks that the QEMU process still runs.
constexpr std::chrono::milliseconds kPollInterval{200};
constexpr std::chrono::seconds kStopTimeout{5};

// Reads one line from `fd`, a byte at a time so nothing after it is consumed. Returns
// empty at end of file.
std::string read_line(int fd) {
    std::string line;
    char c;
    while (true) {
        ssize_t count = read(fd, &c, 1);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0 || c == '\n') break;
        line += c;
    }
    return line;
}

void write_line(int fd, const std::string& line) {
    std::string text = line + "\n";
    // A parent that went away is no reason to fail: the holder still owns the network.
    [[maybe_unused]] auto written = write(fd, text.data(), text.size());
}

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

// Starts `isolab vm-network-holder` for the VM, with its messages in holder.log. With
// `adopt` the holder takes over the lease of a running VM whose holder died.
pid_t spawn_holder(const Paths& paths, const std::string& name, int command_read, int ready_write, bool adopt) {
    HelperSpawn spawn;
    spawn.arguments = {"--log-level", "info", network_holder_command, "--ready-fd", std::to_string(kHolderReadyFd)};
    if (adopt) spawn.arguments.emplace_back("--adopt");
    spawn.arguments.push_back(name);
    spawn.stdin_fd = command_read;
    spawn.ready_fd = ready_write;
    spawn.ready_fd_number = kHolderReadyFd;
    spawn.log = vm_paths(paths, name).folder / "holder.log";
    pid_t pid = spawn_isolab_helper(paths, spawn);
    spdlog::debug("net: started holder pid {} for VM {}", pid, name);
    return pid;
}

// The Error for a holder that reported `line` instead of its address: the holder's own
// message, or where to read why it exited.
Error holder_failure(const Paths& paths, const std::string& name, const std::string& line) {
    auto message = json::parse(line, nullptr, false);
    std::string text = message.is_object() ? message.value("message", line) : line;
    std::string hint = message.is_object() ? message.value("hint", "") : "";
    if (text.empty()) {
        text = "the VM network holder exited without reporting; see " + (vm_paths(paths, name).folder / "holder.log").string();
    }
    return Error(text, hint);
}

json interface_json(const VmNetwork& network) {
    const auto& guest = network.guest();
    return {{"address", guest.address},       {"prefix", guest.prefix}, {"gateway", guest.gateway},
            {"bridge", guest.bridge},         {"tap", guest.tap_device},
            {"ports", network.published_ports()}};
}

// Waits until the QEMU process `qemu_pid` exits or SIGTERM or SIGINT arrives.
void wait_for_end(pid_t qemu_pid, std::uint64_t qemu_start_ticks) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd < 0) throw_errno("cannot create a signalfd");
    while (container::process_alive(qemu_pid, qemu_start_ticks)) {
        pollfd watched{signal_fd, POLLIN, 0};
        if (poll(&watched, 1, static_cast<int>(kPollInterval.count())) > 0) {
            spdlog::info("VM network holder: stopping on a signal");
            break;
        }
    }
    close(signal_fd);
}

}  // namespace

NetworkHolder::NetworkHolder(const Paths& paths, const std::string& name) {
    int command[2], ready[2];
    if (pipe2(command, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
    if (pipe2(ready, O_CLOEXEC) != 0) {
        close(command[0]);
        close(command[1]);
        throw_errno("cannot create a pipe");
    }
    try {
        pid_ = spawn_holder(paths, name, command[0], ready[1], false);
    } catch (...) {
        for (int fd : {command[0], command[1], ready[0], ready[1]}) close(fd);
        throw;
    }
    close(command[0]);
    close(ready[1]);
    command_fd_ = command[1];
    ready_fd_ = ready[0];

    std::string line = read_line(ready_fd_);
    auto message = json::parse(line, nullptr, false);
    if (message.is_discarded() || !message.is_object() || !message.contains("address")) {
        close_fd(command_fd_);
        close_fd(ready_fd_);
        waitpid(pid_, nullptr, 0);
        throw holder_failure(paths, name, line);
    }
    guest_.address = message.value("address", "");
    guest_.prefix = message.value("prefix", 24);
    guest_.gateway = message.value("gateway", "");
    guest_.bridge = message.value("bridge", "");
    guest_.tap_device = message.value("tap", "");
    published_ = message.value("ports", std::vector<std::string>{});
}

NetworkHolder::~NetworkHolder() {
    close_fd(command_fd_);
    close_fd(ready_fd_);
    // Before attach the holder releases everything on end of file; waiting for it means
    // the caller's error leaves nothing behind.
    if (!attached_ && pid_ > 0) waitpid(pid_, nullptr, 0);
}

void NetworkHolder::attach(pid_t qemu_pid) {
    write_line(command_fd_, fmt::format("attach {}", qemu_pid));
    auto message = json::parse(read_line(ready_fd_), nullptr, false);
    if (message.is_discarded() || !message.value("attached", false)) {
        throw Error("the VM network holder did not take over the network of QEMU process " + std::to_string(qemu_pid));
    }
    attached_ = true;
    close_fd(command_fd_);
    close_fd(ready_fd_);
}

pid_t restart_network_holder(const Paths& paths, const std::string& name) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
    pid_t pid = -1;
    try {
        pid = spawn_holder(paths, name, -1, ready[1], true);
    } catch (...) {
        close(ready[0]);
        close(ready[1]);
        throw;
    }
    close(ready[1]);
    std::string line = read_line(ready[0]);
    close(ready[0]);
    auto message = json::parse(line, nullptr, false);
    if (message.is_discarded() || !message.is_object() || !message.value("attached", false)) {
        waitpid(pid, nullptr, 0);
        throw holder_failure(paths, name, line);
    }
    spdlog::info("net: restarted the network holder of VM {} as pid {}", name, pid);
    return pid;
}

namespace {

// The body of `vm-network-holder --adopt`: takes over the lease of the VM, whose QEMU
// process runs, and owns it until that process exits.
int adopt_network(const Paths& paths, const std::string& name, int ready_fd) {
    std::unique_ptr<VmNetwork> network;
    pid_t qemu_pid = 0;
    std::uint64_t qemu_start_ticks = 0;
    try {
        network = VmNetwork::adopt(paths, name);
        qemu_pid = network->qemu_pid();
        qemu_start_ticks = qemu_pid > 0 ? container::process_start_ticks(qemu_pid) : 0;
        if (qemu_start_ticks == 0) throw Error(fmt::format("the QEMU process of VM {} is gone", name));
        network->attach(qemu_pid);
    } catch (const Error& error) {
        write_line(ready_fd, json{{"message", error.what()}, {"hint", error.hint()}}.dump());
        close(ready_fd);
        return 1;
    }
    json message = interface_json(*network);
    message["attached"] = true;
    write_line(ready_fd, message.dump());
    close(ready_fd);

    wait_for_end(qemu_pid, qemu_start_ticks);
    spdlog::info("VM network holder of {}: QEMU process {} ended; releasing {}", name, qemu_pid,
                 network->guest().address);
    return 0;
}

}  // namespace

int run_network_holder(const Paths& paths, const std::string& name, int ready_fd, bool adopt) {
    fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    if (adopt) return adopt_network(paths, name, ready_fd);
    VmRecord record;
    std::unique_ptr<VmNetwork> network;
    try {
        record = read_record(vm_paths(paths, name));
        std::vector<network::PortMapping> ports;
        for (const auto& text : record.publish) ports.push_back(network::parse_port_mapping(text));
        network = std::make_unique<VmNetwork>(paths, record.network, record.name, std::move(ports));
    } catch (const Error& error) {
        write_line(ready_fd, json{{"message", error.what()}, {"hint", error.hint()}}.dump());
        close(ready_fd);
        return 1;
    }
    write_line(ready_fd, interface_json(*network).dump());

    std::string command = read_line(STDIN_FILENO);
    pid_t qemu_pid = 0;
    if (std::sscanf(command.c_str(), "attach %d", &qemu_pid) != 1 || qemu_pid <= 0) {
        spdlog::info("VM network holder of {}: the VM did not start; releasing its network", name);
        close(ready_fd);
        return 0;
    }
    std::uint64_t qemu_start_ticks = container::process_start_ticks(qemu_pid);
    network->attach(qemu_pid);
    write_line(ready_fd, json{{"attached", true}}.dump());
    close(ready_fd);

    wait_for_end(qemu_pid, qemu_start_ticks);
    spdlog::info("VM network holder of {}: QEMU process {} ended; releasing {}", name, qemu_pid,
                 network->guest().address);
    return 0;
}

void stop_network_holder(pid_t pid, std::uint64_t start_ticks) {
    if (pid <= 0 || !container::process_alive(pid, start_ticks)) return;
    kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    while (container::process_alive(pid, start_ticks)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            spdlog::warn("net: VM network holder {} did not exit within {} s of SIGTERM", pid, kStopTimeout.count());
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace isolab::vm
