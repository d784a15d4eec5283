#pragma once
// Commands on VMs that `vm run -d` started: ps, stop, kill, rm, logs, inspect, stats,
// console and exec. Each reads the VM's record and asks libvirt for the truth: a VM
// whose domain is gone is recorded as exited (and removed when it was started with
// --rm) by the first command that notices.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/paths.hpp"
#include "vmdriver/libvirt/running.hpp"
#include "vmdriver/record.hpp"

namespace isolab::vm {

// One libvirt connection per URI, opened when first needed.
class Connections {
public:
    libvirt::Connection& get(const std::string& uri) {
        auto& connection = open_[uri];
        if (!connection) connection = std::make_unique<libvirt::Connection>(uri);
        return *connection;
    }

private:
    std::map<std::string, std::unique_ptr<libvirt::Connection>> open_;
};

struct VmView {
    VmRecord record;                              // status checked against libvirt
    std::optional<libvirt::DomainStatus> domain;  // nothing when the domain is gone
    // True while the process that binds the published ports of a running VM lives: its
    // network holder, or the foreground `vm run`. False when the holder died and could not
    // be started again, and for a VM that does not run.
    bool ports_up = false;
};

// The VMs of the state root; exited ones only with `all`. Records of exited --rm VMs are
// removed instead of listed.
std::vector<VmView> list_vms(const Paths& paths, bool all);

// Returns the VM named `name` with its status checked against libvirt; an Error (exit
// code 1) when it does not exist or is not running.
VmView require_running(const Paths& paths, const std::string& name, Connections& connections);

// Returns one VM with its status checked against libvirt. Throws Error when there is no
// such VM.
VmView find_vm(const Paths& paths, const std::string& name);

struct StopOutcome {
    std::string name;
    bool graceful = false;  // the guest powered off before the timeout
    double seconds = 0;     // from the power button event to the domain's end
};

// Presses the ACPI power button and waits up to `timeout` for the guest to power off,
// then destroys the domain. A VM that is not running is an Error (exit code 1).
StopOutcome stop_vm(const Paths& paths, const std::string& name, std::chrono::seconds timeout);

// Destroys the domain at once (virDomainDestroy). A VM that is not running is an Error.
std::string kill_vm(const Paths& paths, const std::string& name);

// Removes the VM's record, console log and guest files. A running VM is an Error unless
// `force`, which destroys its domain first.
std::string remove_vm(const Paths& paths, const std::string& name, bool force);

// Writes the VM's console output to `write`: the workload's lines only, or with
// `whole_console` every byte the guest wrote (firmware, kernel, isolab-init). With
// `follow`, keeps reading until the domain is gone.
void read_vm_logs(const Paths& paths, const std::string& name, bool follow, bool whole_console,
                  const std::function<void(std::string_view)>& write);

// Returns the record, the live state, the accelerator, the paths and the domain XML as
// one JSON document.
std::string inspect_vm(const Paths& paths, const std::string& name);

struct VmStats {
    std::string name;
    int qemu_pid = -1;
    std::uint64_t qemu_pss_bytes = 0;      // Pss of /proc/<QEMU pid>/smaps_rollup
    std::uint64_t guest_memory_bytes = 0;  // guest RAM libvirt reports (virDomainGetInfo memory)
    std::uint64_t cpu_time_ns = 0;         // vCPU time (virDomainGetInfo cpuTime)
    unsigned vcpus = 0;
};

// Reads the footprint of a running VM. A VM that is not running is an Error.
VmStats vm_stats(const Paths& paths, const std::string& name);

// Attaches the terminal to the VM's serial console until Ctrl-] is typed or the guest
// stops. Returns the reason the session ended.
std::string attach_console(const Paths& paths, const std::string& name);

// Throws Error (exit code 1) when the VM runs in the foreground and its `vm run` process
// (`run_process_alive`) still reads the serial console: libvirt lets one session at a
// time open it.
void require_console_free(const VmRecord& record, bool run_process_alive);

// Always throws Error: isolab guests have no guest agent channel to run a command through.
[[noreturn]] void exec_in_vm(const Paths& paths, const std::string& name);

}  // namespace isolab::vm
