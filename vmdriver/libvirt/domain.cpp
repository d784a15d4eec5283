#include "vmdriver/libvirt/domain.hpp"

#include <libvirt/virterror.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "runtime/core/fault.hpp"
#include "runtime/core/interrupt.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/libvirt/console.hpp"

namespace isolab::vm::libvirt {

namespace {

using std::chrono::milliseconds;

// How often the boot loop hands console output over and checks whether the guest is done.
constexpr milliseconds kPollInterval{50};
// How often the QEMU process's PSS is sampled once the workload runs, plus once at the
// exit line. A read of smaps_rollup walks QEMU's page tables under its mmap lock: 9 ms for
// a 256 MiB TCG guest on a 2-core host (50 reads timed with Python), so sampling every
// 50 ms during the boot took CPU time from the boot it measured. The guest's RAM stays
// resident once touched, so the PSS peak comes late in the run.
constexpr milliseconds kPssInterval{500};
// After the exit line, isolab-init powers the guest off at once. A guest that has not
// stopped within this time is destroyed; the exit code is already known.
constexpr milliseconds kPowerOffGrace{5000};
// libvirtd relays console bytes and lifecycle events on separate paths, so the last
// console bytes may arrive after the stop event. Wait this long for the stream's end.
constexpr milliseconds kConsoleDrainGrace{2000};
// Console lines kept for an error message when the guest stops without an exit code.
constexpr size_t kBootLogTail = 20;


std::string removal_hint(const std::string& name) {
    return fmt::format("remove it with `isolab system prune` or `virsh destroy {}`", name);
}

// Everything the event loop thread learns about the boot, read by the waiting thread.
struct BootState {
    std::mutex mutex;
    std::condition_variable changed;
    std::string name;

    LineSplitter splitter;
    std::optional<Clock::time_point> first_byte;
    bool console_closed = false;
    std::optional<Clock::time_point> stopped;

    std::optional<Clock::time_point> init_start;
    double init_start_uptime_ms = -1;
    std::optional<Clock::time_point> workload_start;
    std::optional<Clock::time_point> ready;
    double ready_uptime_ms = -1;
    std::optional<Clock::time_point> exited;
    int exit_code = -1;
    std::string init_error;
    std::string guest_kernel;
    std::vector<std::string> boot_log;
    std::optional<KernelFailure> kernel_failure;  // the first panic or unpacking failure
    std::vector<ConsoleLine> output;  // workload lines not yet handed to the caller

    void consume(std::string_view bytes, Clock::time_point when) {
        std::lock_guard lock(mutex);
        if (!first_byte) first_byte = when;
        for (auto& line : splitter.feed(bytes, when)) handle_line(std::move(line));
        changed.notify_all();
    }

    void close_console() {
        std::lock_guard lock(mutex);
        if (auto tail = splitter.finish()) handle_line(std::move(*tail));
        console_closed = true;
        changed.notify_all();
    }

    void mark_stopped(Clock::time_point when) {
        std::lock_guard lock(mutex);
        if (!stopped) stopped = when;
        changed.notify_all();
    }

private:
    void handle_line(ConsoleLine line) {
        spdlog::debug("{} console: {}", name, line.text);
        auto event = parse_protocol_line(line.text);
        if (event) record(*event, line.arrived);
        if (is_init_line(line.text)) return;

        bool workload_running = workload_start && !exited;
        if (workload_running) {
            output.push_back(std::move(line));
            return;
        }
        if (!workload_start && guest_kernel.empty()) {
            if (auto release = parse_kernel_banner(line.text)) guest_kernel = *release;
        }
        if (!kernel_failure) kernel_failure = parse_kernel_failure(line.text);
        boot_log.push_back(std::move(line.text));
        if (boot_log.size() > kBootLogTail) boot_log.erase(boot_log.begin());
    }

    void record(const ProtocolEvent& event, Clock::time_point when) {
        switch (event.kind) {
            case ProtocolEvent::Kind::phase:
                if (event.phase == "init-start" && !init_start) {
                    init_start = when;
                    init_start_uptime_ms = event.uptime_ms;
                } else if (event.phase == "workload-start" && !workload_start) {
                    workload_start = when;
                }
                break;
            case ProtocolEvent::Kind::exit:
                if (!exited) {
                    exited = when;
                    exit_code = event.exit_code;
                }
                break;
            case ProtocolEvent::Kind::error:
                if (!init_error.empty()) init_error += "; ";
                init_error += event.text;
                break;
            case ProtocolEvent::Kind::ready:
                if (!ready) {
                    ready = when;
                    ready_uptime_ms = event.uptime_ms;
                    fault_point("vm.ready");
                }
                break;
        }
    }
};

using SharedState = std::shared_ptr<BootState>;

// A looked-up domain reference, freed by the destructor (after any error was read).
struct DomainHandle {
    virDomainPtr get = nullptr;
    ~DomainHandle() {
        if (get != nullptr) virDomainFree(get);
    }
};

// libvirt owns a heap copy of the shared pointer while a callback is registered and frees
// it through this function, so the state outlives any callback still running.
void release_state(void* opaque) { delete static_cast<SharedState*>(opaque); }

BootState& state_of(void* opaque) { return **static_cast<SharedState*>(opaque); }

void on_console_readable(virStreamPtr stream, int events, void* opaque) {
    BootState& state = state_of(opaque);
    spdlog::trace("console stream event {:#x}", events);
    char buffer[4096];
    while (true) {
        int count = virStreamRecv(stream, buffer, sizeof buffer);
        Clock::time_point now = Clock::now();
        if (count > 0) {
            state.consume(std::string_view(buffer, static_cast<size_t>(count)), now);
            continue;
        }
        if (count == -2) break;  // no more bytes for now (non-blocking stream)

        // 0 is the end of the stream, -1 an error: the console is gone either way.
        virStreamEventRemoveCallback(stream);
        state.close_console();
        return;
    }
    if ((events & (VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR)) != 0) {
        virStreamEventRemoveCallback(stream);
        state.close_console();
    }
}

int on_lifecycle(virConnectPtr, virDomainPtr domain, int event, int, void* opaque) {
    BootState& state = state_of(opaque);
    if (event != VIR_DOMAIN_EVENT_STOPPED) return 0;
    const char* name = virDomainGetName(domain);
    if (name != nullptr && state.name == name) state.mark_stopped(Clock::now());
    return 0;
}

// Registers for the lifecycle events of all domains, filtered by name in the callback,
// before the domain exists: a guest may stop before a per-domain registration could be made.
class LifecycleSubscription {
public:
    LifecycleSubscription(Connection& connection, const SharedState& state) : connection_(connection) {
        id_ = virConnectDomainEventRegisterAny(connection.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                               VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), new SharedState(state),
                                               release_state);
        if (id_ < 0) throw_last_error("cannot subscribe to domain events");
    }
    ~LifecycleSubscription() { virConnectDomainEventDeregisterAny(connection_.get(), id_); }
    LifecycleSubscription(const LifecycleSubscription&) = delete;
    LifecycleSubscription& operator=(const LifecycleSubscription&) = delete;

private:
    Connection& connection_;
    int id_ = -1;
};

// The domain's serial console as a non-blocking stream, read by the event loop thread.
class ConsoleStream {
public:
    ConsoleStream(Connection& connection, Domain& domain, const SharedState& state) : state_(state) {
        stream_ = virStreamNew(connection.get(), VIR_STREAM_NONBLOCK);
        if (stream_ == nullptr) throw_last_error("cannot create a stream for the console of " + domain.name());
        if (virDomainOpenConsole(domain.get(), nullptr, stream_, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
            throw_last_error("cannot open the serial console of " + domain.name());
        }
        int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR;
        if (virStreamEventAddCallback(stream_, events, on_console_readable, new SharedState(state), release_state) < 0) {
            throw_last_error("cannot watch the serial console of " + domain.name());
        }
    }
    ~ConsoleStream() { close(); }
    ConsoleStream(const ConsoleStream&) = delete;
    ConsoleStream& operator=(const ConsoleStream&) = delete;

    // Ends the stream and marks the console closed in the boot state. Called once
    // isolab-init has reported the exit, while the domain usually still runs, because
    // libvirt 9.0 can deadlock when a console stream is aborted while the stopped domain's
    // character devices are freed (see PtyConsole).
    void close() {
        if (stream_ == nullptr) return;
        virStreamEventRemoveCallback(stream_);  // fails harmlessly when already removed
        virStreamAbort(stream_);
        virStreamFree(stream_);
        stream_ = nullptr;
        virResetLastError();
        state_->close_console();
    }

private:
    virStreamPtr stream_ = nullptr;
    SharedState state_;
};

// The state a pty watch hands to the event loop: the descriptor, closed when libvirt
// frees the watch, so a callback still running never reads a closed or reused descriptor.
struct PtyWatch {
    int fd = -1;
    SharedState state;
};

void release_pty_watch(void* opaque) {
    auto* watch = static_cast<PtyWatch*>(opaque);
    close(watch->fd);
    delete watch;
}

void on_pty_readable(int watch_id, int fd, int events, void* opaque) {
    BootState& state = *static_cast<PtyWatch*>(opaque)->state;
    char buffer[4096];
    while (true) {
        ssize_t count = read(fd, buffer, sizeof buffer);
        Clock::time_point now = Clock::now();
        if (count > 0) {
            state.consume(std::string_view(buffer, static_cast<size_t>(count)), now);
            continue;
        }
        if (count < 0 && (errno == EAGAIN || errno == EINTR)) break;
        // 0, or EIO once QEMU closed the pty's master: the console is gone.
        virEventRemoveHandle(watch_id);
        state.close_console();
        return;
    }
    if ((events & (VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR)) != 0) {
        virEventRemoveHandle(watch_id);
        state.close_console();
    }
}

// The serial console of a domain on an embedded driver, read from its pty by this
// process, which runs the driver as root. virDomainOpenConsole is not used there, because
// in libvirt 9.0 a console stream aborted while the driver frees the stopped domain can
// deadlock. virStreamAbort holds the stream lock and waits for the chardev lock, while
// virChrdevFree holds the chardev lock and waits for the stream lock. The guest powers
// itself off at a moment isolab does not choose, so no order of calls avoids the overlap.
// Reading the pty also creates no lock file in /var/lock that a killed isolab would leave.
class PtyConsole {
public:
    PtyConsole(Domain& domain, const SharedState& state) : state_(state) {
        char* xml = virDomainGetXMLDesc(domain.get(), 0);
        if (xml == nullptr) throw_last_error("cannot read the domain XML of " + domain.name());
        std::string path = serial_pty_path(xml);
        free(xml);
        if (path.empty()) throw Error("cannot open the serial console of " + domain.name() + ": it has no pty");
        int fd = open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            throw Error(fmt::format("cannot open the serial console {} of {}: {}", path, domain.name(),
                                    std::strerror(errno)));
        }
        // Raw mode, as libvirt's console streams set it: no echo back to the guest and no
        // line editing of the bytes it writes.
        termios mode{};
        if (tcgetattr(fd, &mode) == 0) {
            cfmakeraw(&mode);
            tcsetattr(fd, TCSANOW, &mode);
        }
        int events = VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR;
        watch_ = virEventAddHandle(fd, events, on_pty_readable, new PtyWatch{fd, state}, release_pty_watch);
        if (watch_ < 0) {
            ::close(fd);
            throw_last_error("cannot watch the serial console of " + domain.name());
        }
    }
    ~PtyConsole() { close(); }
    PtyConsole(const PtyConsole&) = delete;
    PtyConsole& operator=(const PtyConsole&) = delete;

    // Stops watching the pty and marks the console closed in the boot state.
    void close() {
        if (watch_ < 0) return;
        virEventRemoveHandle(watch_);  // fails harmlessly when the callback removed it
        watch_ = -1;
        virResetLastError();
        state_->close_console();
    }

private:
    int watch_ = -1;
    SharedState state_;
};

std::filesystem::path pid_file(const std::string& uri, const std::string& name) {
    if (auto root = embedded_root(uri); !root.empty()) return root / "run/qemu" / (name + ".pid");
    if (uri.starts_with("qemu:///session")) {
        const char* runtime = std::getenv("XDG_RUNTIME_DIR");
        if (runtime == nullptr) return {};
        return std::filesystem::path(runtime) / "libvirt/qemu/run" / (name + ".pid");
    }
    return std::filesystem::path("/run/libvirt/qemu") / (name + ".pid");
}

Clock::time_point minus_ms(Clock::time_point when, double ms) {
    return when - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

void hand_over_output(BootState& state, const OutputLineHandler& handler) {
    std::vector<ConsoleLine> lines;
    {
        std::lock_guard lock(state.mutex);
        lines.swap(state.output);
    }
    for (const auto& line : lines) handler(line.text, line.arrived);
}

// True when waiting is over: the guest stopped and its console ended (or had time to).
bool finished(const BootState& state, Clock::time_point now) {
    if (state.stopped) return state.console_closed || now - *state.stopped > kConsoleDrainGrace;
    return state.exited && now - *state.exited > kPowerOffGrace;
}

// Throws the error for a guest that stopped before isolab-init reported an exit code, on one
// line: isolab-init's own error, else the kernel's failure line, else the last console line.
[[noreturn]] void throw_early_stop(const BootState& state, const DomainSpec& spec) {
    const std::string& name = spec.name;
    std::string message = fmt::format("VM {} stopped before isolab-init reported an exit code", name);
    std::string hint = "run with --log-level debug to see the whole console";
    if (!state.init_error.empty()) {
        message += ": " + state.init_error;
    } else if (state.kernel_failure) {
        message += ": " + describe_kernel_failure(*state.kernel_failure);
        if (state.kernel_failure->kind != KernelFailure::Kind::panic) {
            hint = kGuestMemoryHint;
            // In the initramfs form the advice can name a size, as the check before the boot does.
            std::error_code error;
            auto bytes = spec.disk.empty() ? std::filesystem::file_size(spec.initrd, error) : 0;
            if (!error && bytes > 0) {
                hint += fmt::format(" (for this initramfs, --memory {}M or more)", initramfs_memory_advice_mib(bytes));
            }
        }
    } else if (!state.boot_log.empty()) {
        message += "; its last console line: " + strip_terminal_controls(state.boot_log.back());
    }
    throw Error(message, hint);
}

void record_phases(const BootState& state, PhaseRecorder& phases) {
    if (state.first_byte) phases.mark_at("first-serial-byte", *state.first_byte);
    if (state.init_start) {
        if (state.init_start_uptime_ms >= 0) {
            phases.mark_at("kernel-start", minus_ms(*state.init_start, state.init_start_uptime_ms));
        }
        phases.mark_at("init-start", *state.init_start);
    }
    if (state.workload_start) phases.mark_at("workload-start", *state.workload_start);
    if (state.ready) phases.mark_at("ready", *state.ready);
    if (state.exited) phases.mark_at("exit", *state.exited);
    if (state.stopped) phases.mark_at("stopped", *state.stopped);
}

BootOutcome outcome_of(const BootState& state) {
    BootOutcome outcome;
    outcome.exit_code = state.exit_code;
    outcome.init_error = state.init_error;
    outcome.guest_kernel = state.guest_kernel;
    outcome.guest_uptime_at_ready_ms = state.ready_uptime_ms;
    outcome.boot_log = state.boot_log;
    return outcome;
}

// Raises the outcome's PSS peak from one sample of the QEMU process. With a guest RAM
// size, reads the whole smaps at each sample and keeps the guest RAM mapping's PSS of
// the sample where the total peaked, so that the two figures come from one moment.
void sample_memory(BootOutcome& outcome, std::uint64_t guest_ram_bytes) {
    if (guest_ram_bytes == 0) {
        outcome.qemu_pss_peak_bytes = std::max(outcome.qemu_pss_peak_bytes, read_pss_bytes(outcome.qemu_pid));
        return;
    }
    std::ifstream file(fmt::format("/proc/{}/smaps", outcome.qemu_pid));
    std::stringstream text;
    text << file.rdbuf();
    std::string smaps = text.str();
    std::uint64_t total = 0;
    std::istringstream lines(smaps);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("Pss:")) continue;
        std::uint64_t kib = 0;
        std::istringstream(line.substr(4)) >> kib;
        total += kib * 1024;
    }
    if (total <= outcome.qemu_pss_peak_bytes) return;
    outcome.qemu_pss_peak_bytes = total;
    outcome.guest_ram_pss_at_peak_bytes = guest_ram_pss_from_smaps(smaps, guest_ram_bytes);
}

// Waits for the guest to finish, sampling the QEMU process's PSS (see kPssInterval).
// Returns normally once the guest has stopped or exited; throws on timeout, interruption
// or a guest that stopped without an exit code.
void watch(Domain& domain, BootState& state, const std::function<void()>& close_console, const BootRequest& request,
           BootOutcome& outcome) {
    Clock::time_point deadline = Clock::now() + request.timeout;
    std::optional<Clock::time_point> last_sample;
    bool sampled_at_exit = false;
    while (true) {
        {
            std::unique_lock lock(state.mutex);
            state.changed.wait_for(lock, kPollInterval);
        }
        hand_over_output(state, request.on_output);

        Clock::time_point now = Clock::now();
        std::unique_lock lock(state.mutex);
        if (finished(state, now)) break;
        bool workload_started = state.workload_start.has_value();
        bool exited = state.exited.has_value();
        lock.unlock();

        bool sample_due = workload_started && (!last_sample || now - *last_sample >= kPssInterval);
        if (outcome.qemu_pid > 0 && (sample_due || (exited && !sampled_at_exit))) {
            sample_memory(outcome, request.guest_ram_bytes);
            last_sample = now;
            sampled_at_exit = exited;
        }
        // isolab-init writes nothing after its exit line.
        if (exited) close_console();

        if (request.interrupted && request.interrupted()) {
            domain.destroy();
            // The shell's code for the signal: 130 for SIGINT, 143 for SIGTERM.
            int code = InterruptGuard::exit_code();
            throw Error("interrupted: destroyed domain " + domain.name(), {}, code != 0 ? code : 130);
        }
        if (request.stop_requested && request.stop_requested()) {
            domain.destroy();
            outcome.stopped_on_request = true;
            break;
        }
        if (now > deadline) {
            domain.destroy();
            auto seconds = std::chrono::duration_cast<std::chrono::seconds>(request.timeout).count();
            std::lock_guard relock(state.mutex);
            std::string where = !state.first_byte    ? "before the guest wrote anything on its console"
                                : !state.init_start ? "before isolab-init started"
                                : !state.exited     ? "while the workload ran"
                                                    : "while the guest powered off";
            throw BootTimeout(fmt::format("VM {} timed out after {} s {}; destroyed it", domain.name(), seconds, where),
                              "raise the timeout, or check the console with --log-level debug");
        }
    }
    hand_over_output(state, request.on_output);

    std::lock_guard lock(state.mutex);
    if (!state.exited && !outcome.stopped_on_request) {
        throw_early_stop(state, request.spec);
    }
}

}  // namespace

std::string_view domain_state_name(int state) {
    switch (state) {
        case VIR_DOMAIN_RUNNING: return "running";
        case VIR_DOMAIN_BLOCKED: return "blocked";
        case VIR_DOMAIN_PAUSED: return "paused";
        case VIR_DOMAIN_SHUTDOWN: return "shutting down";
        case VIR_DOMAIN_SHUTOFF: return "shut off";
        case VIR_DOMAIN_CRASHED: return "crashed";
        case VIR_DOMAIN_PMSUSPENDED: return "suspended";
        default: return "unknown";
    }
}
Domain::Domain(Connection& connection, const std::string& name, const std::string& xml, unsigned flags) : name_(name) {
    virDomainPtr existing = virDomainLookupByName(connection.get(), name.c_str());
    if (existing != nullptr) {
        virDomainFree(existing);
        throw Error("cannot create VM " + name + ": a libvirt domain with that name already exists",
                    removal_hint(name));
    }
    virResetLastError();

    domain_ = virDomainCreateXML(connection.get(), xml.c_str(), flags);
    if (domain_ == nullptr) {
        virErrorPtr last = virGetLastError();
        if (last != nullptr && last->code == VIR_ERR_OPERATION_FAILED && last->message != nullptr &&
            std::string_view(last->message).find("already exists") != std::string_view::npos) {
            std::string message = last->message;
            virResetLastError();
            throw Error("cannot create VM " + name + ": " + message, removal_hint(name));
        }
        throw_last_error("cannot create VM " + name, connection.uri());
    }
    spdlog::debug("created domain {} (flags {:#x})", name_, flags);
}

virDomainPtr Domain::release() {
    virDomainPtr domain = domain_;
    domain_ = nullptr;
    return domain;
}

Domain::~Domain() {
    destroy();
    if (domain_ != nullptr) virDomainFree(domain_);
}

void Domain::resume() {
    if (virDomainResume(domain_) < 0) throw_last_error("cannot resume VM " + name_);
}

void Domain::destroy() noexcept {
    if (domain_ == nullptr || virDomainIsActive(domain_) != 1) {
        virResetLastError();
        return;
    }
    if (virDomainDestroy(domain_) < 0) {
        virErrorPtr last = virGetLastError();
        spdlog::warn("cannot destroy domain {}: {}", name_, last && last->message ? last->message : "unknown error");
        virResetLastError();
        return;
    }
    spdlog::debug("destroyed domain {}", name_);
}

BootOutcome boot(Connection& connection, const BootRequest& request, PhaseRecorder& phases) {
    std::string xml = build_domain_xml(request.spec);
    phases.mark("define");
    spdlog::debug("domain XML for {}:\n{}", request.spec.name, xml);

    auto state = std::make_shared<BootState>();
    state->name = request.spec.name;
    LifecycleSubscription lifecycle(connection, state);

    // Paused first, so the console is attached before the guest writes its first byte;
    // auto-destroy, so libvirtd removes the domain if isolab dies without cleaning up.
    // An embedded driver has no auto-destroy; the domain's owner destroys it on the way out
    // and `system prune` finds it after a crash.
    unsigned flags = VIR_DOMAIN_START_PAUSED;
    if (embedded_root(connection.uri()).empty()) flags |= VIR_DOMAIN_START_AUTODESTROY;
    Domain domain(connection, request.spec.name, xml, flags);
    phases.mark("create");

    BootOutcome outcome;
    outcome.qemu_pid = read_qemu_pid(connection.uri(), domain.name());
    spdlog::debug("domain {} runs as QEMU process {}", domain.name(), outcome.qemu_pid);
    if (auto created = process_created_at(outcome.qemu_pid)) phases.mark_at("qemu-process", *created);
    if (request.on_created && outcome.qemu_pid > 0) request.on_created(outcome.qemu_pid);
    fault_point("vm.domain");
    std::optional<ConsoleStream> stream;
    std::optional<PtyConsole> pty;
    if (embedded_root(connection.uri()).empty()) {
        stream.emplace(connection, domain, state);
    } else {
        pty.emplace(domain, state);
    }
    domain.resume();
    phases.mark("qemu-up");

    auto close_console = [&] {
        if (stream) stream->close();
        if (pty) pty->close();
    };
    watch(domain, *state, close_console, request, outcome);

    std::lock_guard lock(state->mutex);
    record_phases(*state, phases);
    BootOutcome result = outcome_of(*state);
    result.qemu_pid = outcome.qemu_pid;
    result.qemu_pss_peak_bytes = outcome.qemu_pss_peak_bytes;
    result.guest_ram_pss_at_peak_bytes = outcome.guest_ram_pss_at_peak_bytes;
    result.stopped_on_request = outcome.stopped_on_request;
    return result;
}

std::string serial_pty_path(std::string_view xml) {
    size_t serial = xml.find("<serial type='pty'");
    if (serial == std::string_view::npos) return {};
    size_t end = xml.find("</serial>", serial);
    constexpr std::string_view source = "<source path='";
    size_t start = xml.find(source, serial);
    if (start == std::string_view::npos || start > end) return {};
    start += source.size();
    size_t quote = xml.find('\'', start);
    if (quote == std::string_view::npos || quote > end) return {};
    return std::string(xml.substr(start, quote - start));
}

std::uint64_t read_pss_bytes(int pid) {
    std::ifstream rollup(fmt::format("/proc/{}/smaps_rollup", pid));
    std::string line;
    while (std::getline(rollup, line)) {
        if (!line.starts_with("Pss:")) continue;
        std::istringstream fields(line.substr(4));
        std::uint64_t kib = 0;
        fields >> kib;
        return kib * 1024;
    }
    return 0;
}

std::optional<std::uint64_t> guest_ram_pss_from_smaps(std::string_view smaps, std::uint64_t guest_ram_bytes) {
    std::optional<std::uint64_t> best_pss;
    std::uint64_t best_size = 0;
    bool candidate = false;  // the current mapping could hold guest RAM
    std::uint64_t size = 0;
    while (!smaps.empty()) {
        auto end = smaps.find('\n');
        std::string_view line = smaps.substr(0, end);
        smaps = end == std::string_view::npos ? std::string_view{} : smaps.substr(end + 1);

        // A mapping's header is "start-end perms offset dev inode [path]", and the
        // fields that follow it are "Name:   N kB".
        unsigned long long start = 0, stop = 0, inode = 0;
        char perms[5] = {};
        unsigned long long offset = 0;
        char device[16] = {};
        int consumed = 0;
        std::string header(line);
        if (std::sscanf(header.c_str(), "%llx-%llx %4s %llx %15s %llu %n", &start, &stop, perms, &offset, device, &inode,
                        &consumed) == 6) {
            auto path_start = header.find_first_not_of(' ', static_cast<std::size_t>(consumed));
            std::string_view path = path_start == std::string::npos ? std::string_view{}
                                                                    : std::string_view(header).substr(path_start);
            bool anonymous = inode == 0 && path.empty();
            candidate = perms[2] != 'x' && (anonymous || path.starts_with("/memfd:"));
            size = stop - start;
            continue;
        }
        if (!candidate || !line.starts_with("Pss:")) continue;
        std::uint64_t kib = 0;
        std::istringstream(std::string(line.substr(4))) >> kib;
        if (size >= guest_ram_bytes && (!best_pss || size < best_size)) {
            best_size = size;
            best_pss = kib * 1024;
        }
    }
    return best_pss;
}

int read_qemu_pid(const std::string& uri, const std::string& name) {
    auto path = pid_file(uri, name);
    if (path.empty()) return -1;
    std::ifstream file(path);
    int pid = -1;
    if (!(file >> pid)) return -1;
    return pid;
}

std::optional<Clock::time_point> process_created_at(int pid) {
    std::uint64_t ticks = container::process_start_ticks(pid);
    long ticks_per_second = sysconf(_SC_CLK_TCK);
    timespec boot_clock {};
    if (ticks == 0 || ticks_per_second <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot_clock) != 0) return std::nullopt;
    auto now = Clock::now();
    double since_boot_ms = static_cast<double>(boot_clock.tv_sec) * 1e3 + static_cast<double>(boot_clock.tv_nsec) / 1e6;
    double created_ms = static_cast<double>(ticks) * 1e3 / static_cast<double>(ticks_per_second);
    return minus_ms(now, since_boot_ms - created_ms);
}

std::vector<DomainSummary> list_isolab_domains(Connection& connection) {
    virDomainPtr* domains = nullptr;
    int count = virConnectListAllDomains(connection.get(), &domains, 0);
    if (count < 0) throw_last_error("cannot list libvirt domains", connection.uri());

    std::vector<DomainSummary> summaries;
    for (int i = 0; i < count; ++i) {
        virDomainPtr domain = domains[i];
        const char* name = virDomainGetName(domain);
        virDomainInfo info{};
        if (name != nullptr && std::string_view(name).starts_with(kDomainPrefix) && virDomainGetInfo(domain, &info) == 0) {
            std::string owner;
            if (char* xml = virDomainGetXMLDesc(domain, 0)) {
                owner = owner_root_of(xml);
                free(xml);
            } else {
                virResetLastError();  // stopped and vanished since the listing
            }
            summaries.push_back({name, std::string(domain_state_name(info.state)), std::uint64_t{info.memory} * 1024,
                                 info.nrVirtCpu, virDomainIsPersistent(domain) == 1, owner});
        }
        virDomainFree(domain);
    }
    free(domains);
    return summaries;
}

std::vector<std::string> remove_isolab_domains(Connection& connection,
                                               const std::function<bool(const DomainSummary&)>& keep) {
    std::vector<std::string> removed;
    for (const auto& summary : list_isolab_domains(connection)) {
        if (keep && keep(summary)) continue;
        DomainHandle domain{virDomainLookupByName(connection.get(), summary.name.c_str())};
        if (domain.get == nullptr) {
            virResetLastError();  // stopped and vanished since the listing
            continue;
        }
        if (virDomainIsActive(domain.get) == 1 && virDomainDestroy(domain.get) < 0) {
            throw_last_error("cannot destroy domain " + summary.name, connection.uri());
        }
        if (summary.persistent && virDomainUndefine(domain.get) < 0) {
            throw_last_error("cannot undefine domain " + summary.name, connection.uri());
        }
        spdlog::debug("removed domain {}", summary.name);
        removed.push_back(summary.name);
    }
    return removed;
}

}  // namespace isolab::vm::libvirt
