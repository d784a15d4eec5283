#include "vmdriver/lifecycle.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/libvirt/console.hpp"
#include "vmdriver/libvirt/domain.hpp"
#include "vmdriver/network/holder.hpp"
#include "vmdriver/network/vm_network.hpp"
#include "vmdriver/vm.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using std::chrono::milliseconds;

// How often stop and `logs -f` check whether the domain is still there.
constexpr milliseconds kPollInterval{200};
// Exit codes for a guest that ended without an "isolab-init: exit" line, as Docker shows
// a container killed by SIGKILL (137) and isolab one whose owner vanished (255).
constexpr int kDestroyedExitCode = 137;
constexpr int kVanishedExitCode = 255;
// How long stop, kill and rm -f wait for a foreground `vm run` to end after SIGTERM. It
// destroys its domain within one console sample (50 ms) once its boot loop runs.
constexpr std::chrono::seconds kOwnerExitTimeout{30};

// The modification time of `file` as RFC 3339 UTC, or now when it does not exist. The
// console log is written until the guest stops, so its time is about when it stopped.
std::string modification_time(const fs::path& file) {
    struct stat status {};
    if (stat(file.c_str(), &status) != 0) return utc_timestamp();
    std::tm parts{};
    gmtime_r(&status.st_mtim.tv_sec, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

// Records that the VM's domain is gone, with the exit code from its console log, and
// removes an --rm VM. `finished` is the time to record; empty: the console log's
// modification time. Returns false when the VM's record no longer exists.
bool record_exit(const Paths& paths, VmRecord& record, const std::string& finished = {}) {
    FileLock lock = lock_vm_records(paths);
    VmPaths vm = vm_paths(paths, record.name);
    if (!fs::exists(vm.record())) return false;
    record = read_record(vm);
    if (record.status != "exited") {
        record.status = "exited";
        record.exit_code = exit_code_from_console(vm.console_log());
        if (!record.exit_code) record.exit_code = record.stopped_by.empty() ? kVanishedExitCode : kDestroyedExitCode;
        if (*record.exit_code == kVanishedExitCode) record.error = failure_from_console(vm.console_log());
        record.finished = finished.empty() ? modification_time(vm.console_log()) : finished;
        // The holder ends by itself once QEMU has exited. Stopping it here frees the ports
        // and releases the lease before the command that noticed the exit returns.
        stop_network_holder(record.holder_pid, record.holder_start_ticks);
        if (record.network != "none") release_vm_network(paths, record.name);
    }
    if (record.auto_remove) {
        fs::remove_all(vm.folder);
        spdlog::debug("removed VM {} (--rm) after it exited", record.name);
        return false;
    }
    write_record(vm, record);
    return true;
}

bool holder_alive(const VmRecord& record) {
    return record.holder_pid > 0 && container::process_alive(record.holder_pid, record.holder_start_ticks);
}

// Starts a new network holder for a running VM whose holder died (killed, or crashed),
// because the published ports are sockets of the holder and went with it. A Docker user
// expects `-p` to work for as long as the VM runs, and the holder keeps no state of its
// own (the lease and the record do), so the first `vm` command that observes the VM
// restores the ports. When that fails, for example because another process took a port meanwhile,
// the view reports the holder as down and `vm ps` and `vm inspect` show the ports so.
void repair_network_holder(const Paths& paths, VmView& view) {
    if (view.record.holder_pid <= 0) {
        // A foreground `vm run` binds the ports itself.
        view.ports_up = container::process_alive(view.record.owner_pid, view.record.owner_start_ticks);
        return;
    }
    if (holder_alive(view.record)) {
        view.ports_up = true;
        return;
    }
    FileLock lock = lock_vm_records(paths);
    VmPaths vm = vm_paths(paths, view.record.name);
    VmRecord record = read_record(vm);
    if (holder_alive(record)) {
        view.record = record;
        view.ports_up = true;
        return;
    }
    spdlog::warn("VM {}: its network holder (pid {}) is gone; starting a new one", record.name, record.holder_pid);
    try {
        record.holder_pid = restart_network_holder(paths, record.name);
        record.holder_start_ticks = container::process_start_ticks(record.holder_pid);
        write_record(vm, record);
        view.ports_up = true;
    } catch (const Error& error) {
        spdlog::warn("VM {}: cannot restore its published ports: {}", record.name, error.one_line());
        view.ports_up = false;
    }
    view.record = record;
}

bool on_embedded_driver(const VmRecord& record) { return !libvirt::embedded_root(record.connect_uri).empty(); }

// Ends the domain of a foreground VM whose `vm run` process died, when it still runs: an
// embedded driver has no auto-destroy, so a killed owner leaves QEMU running. When the
// driver cannot be opened (another process holds an embedded one), `system prune`
// destroys the domain later, because the record then says exited.
void destroy_orphaned_domain(const VmRecord& record, Connections& connections) {
    try {
        if (libvirt::destroy_domain(connections.get(record.connect_uri), record.uuid)) {
            spdlog::debug("destroyed domain {}: its vm run process {} is gone", record.name, record.owner_pid);
        }
    } catch (const Error& error) {
        spdlog::warn("VM {}: its vm run process {} is gone, and its domain could not be destroyed yet: {}",
                     record.name, record.owner_pid, error.one_line());
    }
}

// Checks the record against libvirt. Returns nothing when the VM was removed (--rm).
std::optional<VmView> observe(const Paths& paths, const VmRecord& record, Connections& connections) {
    VmView view{record, std::nullopt};
    bool owner_alive = record.owner_pid > 0 && container::process_alive(record.owner_pid, record.owner_start_ticks);
    bool owner_dead = record.owner_pid > 0 && !owner_alive;
    // "created" without a UUID: `vm run` is still preparing the guest, or was killed while
    // it did (its creator process is gone), and then the VM has exited.
    if (abandoned_while_created(record)) {
        // The run may have died between starting the domain and recording it. Such a
        // domain never became a VM isolab manages, so it goes with the failed run.
        libvirt::Connection& connection = connections.get(record.connect_uri);
        if (auto uuid = libvirt::domain_uuid(connection, record.name); !uuid.empty()) {
            libvirt::destroy_domain(connection, uuid);
        }
        if (!record_exit(paths, view.record)) return std::nullopt;
        return view;
    }
    if (record.status == "created" && record.uuid.empty() && (record.owner_pid == 0 || owner_alive)) return view;
    // A live `vm run` holds its embedded driver, which one process at a time may open, so
    // the record (kept by that process) is the VM's state.
    if (owner_alive && record.status != "exited" && on_embedded_driver(record)) {
        view.ports_up = record.status == "running";
        return view;
    }
    // The `vm run` that owned the VM died (a killed foreground run) before it recorded the
    // exit, so the VM has exited whatever its domain does. Nothing records when the owner
    // died, so the time recorded is when this command found it gone, an upper bound.
    if (owner_dead && record.status != "exited") {
        if (!record.uuid.empty()) destroy_orphaned_domain(record, connections);
        if (!record_exit(paths, view.record, utc_timestamp())) return std::nullopt;
        return view;
    }
    if (record.status != "exited" && !record.uuid.empty()) {
        view.domain = libvirt::domain_status(connections.get(record.connect_uri), record.uuid);
        if (view.domain && view.domain->active) {
            repair_network_holder(paths, view);
            return view;
        }
    }
    // A foreground `vm run` records the exit itself once it has read the guest's last
    // console lines.
    if (record.status != "exited" && owner_alive) return view;
    if (!record_exit(paths, view.record)) return std::nullopt;
    return view;
}

VmView require_vm(const Paths& paths, const std::string& name, Connections& connections) {
    auto view = observe(paths, require_record(paths, name), connections);
    if (!view) throw Error(fmt::format("no such VM: {} (it was started with --rm and has exited)", name), {}, 1);
    return *view;
}

}  // namespace

VmView require_running(const Paths& paths, const std::string& name, Connections& connections) {
    VmView view = require_vm(paths, name, connections);
    if (view.record.status != "running") {
        throw Error(fmt::format("VM {} is not running (status {})", view.record.name, view.record.status),
                    fmt::format("start a new one with `isolab vm run -d`; see its output with `isolab vm logs {}`",
                                view.record.name),
                    1);
    }
    return view;
}

namespace {

void set_stopped_by(const Paths& paths, const std::string& name, const std::string& who) {
    FileLock lock = lock_vm_records(paths);
    VmPaths vm = vm_paths(paths, name);
    VmRecord record = read_record(vm);
    record.stopped_by = who;
    write_record(vm, record);
}

// True when the VM's foreground `vm run` lives and holds the VM's embedded driver, which
// then no other process may open.
bool owner_holds_driver(const VmRecord& record) {
    return record.owner_pid > 0 && on_embedded_driver(record) &&
           container::process_alive(record.owner_pid, record.owner_start_ticks);
}

// Ends a VM through its `vm run` process: SIGTERM makes it destroy the domain and record
// the exit (137, since `stopped_by` is set). Throws Error when the process outlives
// kOwnerExitTimeout.
void end_through_owner(const Paths& paths, const VmRecord& record, const std::string& who) {
    set_stopped_by(paths, record.name, who);
    spdlog::debug("sending SIGTERM to the vm run process {} of {}", record.owner_pid, record.name);
    if (kill(record.owner_pid, SIGTERM) != 0 && errno != ESRCH) {
        throw Error(fmt::format("cannot signal the vm run process {} of VM {}: {}", record.owner_pid, record.name,
                                std::strerror(errno)));
    }
    Clock::time_point deadline = Clock::now() + kOwnerExitTimeout;
    while (container::process_alive(record.owner_pid, record.owner_start_ticks)) {
        if (Clock::now() >= deadline) {
            throw Error(fmt::format("VM {}: its vm run process {} did not end within {} s of SIGTERM", record.name,
                                    record.owner_pid, kOwnerExitTimeout.count()),
                        fmt::format("check that process; `kill -9 {}` ends it, and then `isolab system prune` "
                                    "destroys the domain",
                                    record.owner_pid),
                        1);
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

bool domain_active(libvirt::Connection& connection, const std::string& uuid) {
    auto status = libvirt::domain_status(connection, uuid);
    return status && status->active;
}

// Splits console bytes into lines and passes on the workload's: those after isolab-init's
// workload-start line that isolab-init did not write itself.
class WorkloadFilter {
public:
    explicit WorkloadFilter(const std::function<void(std::string_view)>& write) : write_(write) {}

    void feed(std::string_view bytes) {
        pending_.append(bytes);
        size_t start = 0;
        size_t end;
        while ((end = pending_.find('\n', start)) != std::string::npos) {
            handle(std::string_view(pending_).substr(start, end - start));
            start = end + 1;
        }
        pending_.erase(0, start);
    }

    void finish() {
        if (!pending_.empty()) handle(pending_);
        pending_.clear();
    }

private:
    void handle(std::string_view line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (auto event = libvirt::parse_protocol_line(line)) {
            if (event->kind == libvirt::ProtocolEvent::Kind::phase && event->phase == "workload-start") in_workload_ = true;
            if (event->kind == libvirt::ProtocolEvent::Kind::exit) in_workload_ = false;
        }
        if (!in_workload_ || libvirt::is_init_line(line)) return;
        std::string text(line);
        text += '\n';
        write_(text);
    }

    const std::function<void(std::string_view)>& write_;
    std::string pending_;
    bool in_workload_ = false;
};

}  // namespace

std::vector<VmView> list_vms(const Paths& paths, bool all) {
    // Leases of foreground VMs whose isolab process was killed: libvirt destroyed the
    // domain when the process's connection closed, so the lease is stale.
    network::release_stale_leases(paths);
    Connections connections;
    std::vector<VmView> views;
    // Once the embedded driver is loaded, libvirtd cannot be reached: its records go last.
    auto records = read_all_records(paths);
    std::stable_partition(records.begin(), records.end(),
                          [](const VmRecord& record) { return !on_embedded_driver(record); });
    for (const auto& record : records) {
        auto view = observe(paths, record, connections);
        if (!view || (!all && view->record.status == "exited")) continue;
        views.push_back(std::move(*view));
    }
    return views;
}

std::vector<std::string> prune_vms(const Paths& paths) {
    std::vector<std::string> removed;
    for (const auto& view : list_vms(paths, true)) {
        if (view.record.status != "exited") continue;
        remove_vm(paths, view.record.name, false);
        removed.push_back(view.record.name);
    }
    return removed;
}

VmView find_vm(const Paths& paths, const std::string& name) {
    Connections connections;
    return require_vm(paths, name, connections);
}

StopOutcome stop_vm(const Paths& paths, const std::string& name, std::chrono::seconds timeout) {
    Connections connections;
    VmView view = require_running(paths, name, connections);
    StopOutcome outcome{view.record.name};
    Clock::time_point start = Clock::now();
    if (owner_holds_driver(view.record)) {
        // NOTE: the owner destroys the domain, so the guest gets no power button press.
        end_through_owner(paths, view.record, "stop");
        outcome.seconds = milliseconds_between(start, Clock::now()) / 1000;
        record_exit(paths, view.record, utc_timestamp());
        return outcome;
    }
    libvirt::Connection& connection = connections.get(view.record.connect_uri);

    set_stopped_by(paths, view.record.name, "stop");
    // NOTE: a press before isolab-init watches the input devices (early in the boot) is
    // lost, and the guest is then destroyed after `timeout`.
    libvirt::request_shutdown(connection, view.record.uuid);
    spdlog::debug("pressed the ACPI power button of {}; waiting up to {} s", view.record.name, timeout.count());
    while (domain_active(connection, view.record.uuid)) {
        if (Clock::now() - start >= timeout) break;
        std::this_thread::sleep_for(kPollInterval);
    }
    outcome.graceful = !domain_active(connection, view.record.uuid);
    if (!outcome.graceful) {
        spdlog::info("VM {} did not power off within {} s; destroying it", view.record.name, timeout.count());
        set_stopped_by(paths, view.record.name, "stop-timeout");
        libvirt::destroy_domain(connection, view.record.uuid);
    }
    outcome.seconds = milliseconds_between(start, Clock::now()) / 1000;
    record_exit(paths, view.record, utc_timestamp());
    return outcome;
}

std::string kill_vm(const Paths& paths, const std::string& name) {
    Connections connections;
    VmView view = require_running(paths, name, connections);
    if (owner_holds_driver(view.record)) {
        end_through_owner(paths, view.record, "kill");
    } else {
        set_stopped_by(paths, view.record.name, "kill");
        libvirt::destroy_domain(connections.get(view.record.connect_uri), view.record.uuid);
    }
    // The domain ended now; the console log's last write may be much older.
    record_exit(paths, view.record, utc_timestamp());
    return view.record.name;
}

std::string remove_vm(const Paths& paths, const std::string& name, bool force) {
    Connections connections;
    VmRecord record = require_record(paths, name);
    auto view = observe(paths, record, connections);
    if (!view) return record.name;  // an --rm VM that had exited: observing it removed it
    if (view->record.status == "running") {
        if (!force) {
            throw Error(fmt::format("cannot remove VM {}: it is running", record.name),
                        fmt::format("stop it first with `isolab vm stop {}`, or use `isolab vm rm -f`", record.name), 1);
        }
        if (owner_holds_driver(view->record)) {
            end_through_owner(paths, view->record, "kill");
        } else {
            set_stopped_by(paths, record.name, "kill");
            libvirt::destroy_domain(connections.get(record.connect_uri), record.uuid);
        }
    }
    if (view->record.status == "created" && !force) {
        throw Error(fmt::format("cannot remove VM {}: it is still being created", record.name),
                    "wait for `isolab vm run -d` to finish, or use `isolab vm rm -f` if that process was killed", 1);
    }
    stop_network_holder(view->record.holder_pid, view->record.holder_start_ticks);
    if (view->record.network != "none") release_vm_network(paths, record.name);
    FileLock lock = lock_vm_records(paths);
    fs::remove_all(vm_paths(paths, record.name).folder);
    return record.name;
}

void read_vm_logs(const Paths& paths, const std::string& name, bool follow, bool whole_console,
                  const std::function<void(std::string_view)>& write) {
    Connections connections;
    VmView view = require_vm(paths, name, connections);
    VmPaths vm = vm_paths(paths, view.record.name);
    WorkloadFilter filter(write);
    auto pass_on = [&](std::string_view bytes) {
        if (whole_console) {
            write(bytes);
        } else {
            filter.feed(bytes);
        }
    };

    std::ifstream log(vm.console_log(), std::ios::binary);
    char buffer[8192];
    bool running = view.record.status == "running";
    while (true) {
        while (log.read(buffer, sizeof buffer) || log.gcount() > 0) pass_on(std::string_view(buffer, log.gcount()));
        log.clear();
        if (!follow || !running) break;
        std::this_thread::sleep_for(kPollInterval);
        // One more read after the domain is gone picks up its last bytes.
        running = owner_holds_driver(view.record) ||
                  domain_active(connections.get(view.record.connect_uri), view.record.uuid);
        if (!log.is_open()) log.open(vm.console_log(), std::ios::binary);
    }
    if (!whole_console) filter.finish();
    // A guest that failed before its workload left nothing in these logs, so the reason goes to stderr.
    if (!running && !exit_code_from_console(vm.console_log()) && view.record.stopped_by.empty()) {
        std::string failure = failure_from_console(vm.console_log());
        if (!failure.empty()) {
            spdlog::warn("VM {} stopped before isolab-init reported an exit code: {}", view.record.name, failure);
        }
    }
}

std::string inspect_vm(const Paths& paths, const std::string& name) {
    Connections connections;
    VmView view = require_vm(paths, name, connections);
    const VmRecord& record = view.record;
    VmPaths vm = vm_paths(paths, record.name);
    std::string xml;
    if (view.domain) xml = libvirt::live_domain_xml(connections.get(record.connect_uri), record.uuid);

    json state = {
        {"Status", record.status},
        {"Running", record.status == "running"},
        {"ExitCode", record.exit_code ? json(*record.exit_code) : json(nullptr)},
        {"FinishedAt", record.finished},
        {"StoppedBy", record.stopped_by},
        {"Error", record.error},
        {"DomainState", view.domain ? json(view.domain->state) : json(nullptr)},
    };
    json document = {
        {"Name", record.name},
        {"Id", record.uuid},
        {"Created", record.created},
        {"StartedAt", record.started},
        {"Image", record.image},
        {"Command", record.command},
        {"Form", record.form},
        {"Accelerator", {{"Used", record.accelerator}, {"Reason", record.accelerator_reason}}},
        {"Memory", record.memory_bytes},
        {"Cpus", record.cpus},
        {"ConnectURI", record.connect_uri},
        {"AutoRemove", record.auto_remove},
        {"State", state},
        {"Paths",
         {{"Folder", vm.folder.string()},
          {"Record", vm.record().string()},
          {"ConsoleLog", vm.console_log().string()},
          {"Initramfs", (vm.folder / "initramfs.cpio").string()},
          {"Disk", record.form == "disk" ? json((vm.folder / "disk.qcow2").string()) : json(nullptr)}}},
        {"NetworkSettings", record.network == "none" ? json(nullptr) : network::network_settings(paths, record.name)},
        {"Network", record.network},
        {"NetworkHolderPid", record.holder_pid},
        {"NetworkHolder",
         record.holder_pid > 0 ? json{{"Pid", record.holder_pid}, {"Running", view.ports_up}} : json(nullptr)},
        {"Volumes", record.volumes},
        {"DomainXML", xml.empty() ? json(nullptr) : json(xml)},
    };
    return document.dump(2) + "\n";
}

VmStats vm_stats(const Paths& paths, const std::string& name) {
    Connections connections;
    VmView view = require_running(paths, name, connections);
    if (!view.domain) {
        throw Error(fmt::format("cannot read the statistics of VM {}: its embedded libvirt driver is in use by "
                                "its vm run process {}",
                                view.record.name, view.record.owner_pid),
                    "wait for that VM to end, or run VMs on libvirtd (qemu:///system) to read statistics while they run",
                    1);
    }
    VmStats stats;
    stats.name = view.record.name;
    stats.qemu_pid = libvirt::read_qemu_pid(view.record.connect_uri, view.record.name);
    if (stats.qemu_pid > 0) stats.qemu_pss_bytes = libvirt::read_pss_bytes(stats.qemu_pid);
    stats.guest_memory_bytes = view.domain->memory_bytes;
    stats.cpu_time_ns = view.domain->cpu_time_ns;
    stats.vcpus = view.domain->vcpus;
    return stats;
}

void exec_in_vm(const Paths& paths, const std::string& name) {
    Connections connections;
    VmView view = require_running(paths, name, connections);
    throw Error(fmt::format("cannot exec in VM {}: the guest has no guest agent channel (no virtio-serial "
                            "org.qemu.guest_agent.0 port in its domain XML and no qemu-guest-agent in the image)",
                            view.record.name),
                fmt::format("use `isolab vm console {}` for its serial console, or pass the command to "
                            "`isolab vm run`",
                            view.record.name),
                1);
}

}  // namespace isolab::vm
