#include "vmdriver/network/holder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
#include "vmdriver/record.hpp"

extern char** environ;

namespace isolab::vm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The descriptor number the holder finds its ready pipe at.
constexpr int kHolderReadyFd = 3;
// How often the holder checks that the QEMU process still runs.
constexpr std::chrono::milliseconds kPollInterval{200};
constexpr std::chrono::seconds kStopTimeout{5};

// The isolab executable: this one, or the isolab beside it when a test program calls
// the library.
std::string isolab_executable() {
    auto self = fs::read_symlink("/proc/self/exe");
    if (self.filename() == "isolab") return self.string();
    return (executable_directory() / "isolab").string();
}

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

// Uses posix_spawn rather than fork, because the caller has libvirt's threads. With
// POSIX_SPAWN_SETSID the holder leads its own session, so the terminal's signals miss it.
pid_t spawn_holder(const Paths& paths, const std::string& name, int command_read, int ready_write) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    auto log_path = (vm_paths(paths, name).folder / "holder.log").string();
    posix_spawn_file_actions_adddup2(&actions, command_read, STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&actions, ready_write, kHolderReadyFd);
    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attributes, &signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &signals);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    auto executable = isolab_executable();
    std::vector<std::string> arguments = {executable, "--log-level", "info", network_holder_command,
                                          "--ready-fd", std::to_string(kHolderReadyFd), name};
    std::vector<std::string> environment = {"ISOLAB_ROOT=" + paths.root.string(), "ISOLAB_CACHE=" + paths.cache.string()};
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        if (!text.starts_with("ISOLAB_ROOT=") && !text.starts_with("ISOLAB_CACHE=")) environment.emplace_back(text);
    }
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);

    pid_t pid = 0;
    int error = posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) throw_errno(error, "cannot start the network holder " + executable);
    spdlog::debug("net: started holder pid {} for VM {}", pid, name);
    return pid;
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
        pid_ = spawn_holder(paths, name, command[0], ready[1]);
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
        std::string text = message.is_object() ? message.value("message", line) : line;
        std::string hint = message.is_object() ? message.value("hint", "") : "";
        close_fd(command_fd_);
        close_fd(ready_fd_);
        waitpid(pid_, nullptr, 0);
        if (text.empty()) text = "the VM network holder exited without reporting; see " +
                                 (vm_paths(paths, name).folder / "holder.log").string();
        throw Error(text, hint);
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

int run_network_holder(const Paths& paths, const std::string& name, int ready_fd) {
    fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
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
