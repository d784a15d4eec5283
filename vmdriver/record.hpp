#pragma once
// The record of one VM in the state root, as containers have state.json: vms/<name>/vm.json
// beside the guest's files and its console log. A VM has no owner process once it runs
// detached, so the status a reader shows comes from libvirt: a record whose domain is
// gone is exited, with the exit code isolab-init wrote on the console.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/files.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::vm {

struct VmRecord {
    std::string name;             // libvirt domain name, with the "isolab-" prefix
    std::string uuid;             // the domain's UUID, so a new domain of the same name is not taken for it
    std::string image;            // reference as given
    std::vector<std::string> command;
    std::string form;             // "initramfs" or "disk"
    std::string accelerator;      // "kvm" or "tcg"
    std::string accelerator_reason;
    std::string connect_uri;      // resolved libvirt URI
    std::uint64_t memory_bytes = 0;
    unsigned cpus = 1;
    bool detached = false;
    bool auto_remove = false;     // --rm
    std::string created;          // RFC 3339 UTC, to the second
    std::string started;          // RFC 3339 UTC, when libvirt had started the domain; empty before
    std::string status = "created";  // "created", "running" or "exited", as last recorded
    std::optional<int> exit_code;    // the workload's, when isolab-init reported it
    std::string finished;         // RFC 3339 UTC; empty while running
    std::string stopped_by;       // "", "stop", "stop-timeout" or "kill": who ended the domain
    std::string error;            // why the guest stopped without an exit code, from its console
    pid_t owner_pid = 0;          // the foreground `vm run` process; 0 when detached
    std::uint64_t owner_start_ticks = 0;
    std::string network = "none"; // --network: "none", "bridge" or a user-defined network
    std::vector<std::string> publish;    // -p values as given
    std::vector<std::string> ports;      // published ports, "127.0.0.1:8080->80/tcp"
    std::vector<std::string> volumes;    // -v values as given
    std::string address;          // the guest's IPv4 address; empty without a network
    pid_t holder_pid = 0;         // the network holder of a detached VM; 0: none
    std::uint64_t holder_start_ticks = 0;
    pid_t creator_pid = 0;        // the `vm run` process that wrote the record; 0 in older records
    std::uint64_t creator_start_ticks = 0;
};

// True when the record is "created" without a domain UUID and the `vm run` process
// that wrote it has exited: that process was killed while it prepared or started the VM.
bool abandoned_while_created(const VmRecord& record);

// Folder and files of one VM under the state root.
struct VmPaths {
    std::filesystem::path folder;   // <root>/vms/<name>
    std::filesystem::path record() const { return folder / "vm.json"; }
    std::filesystem::path console_log() const { return folder / "console.log"; }
};

VmPaths vm_paths(const Paths& paths, const std::string& name);

// The lock every change to a VM record takes: <root>/vms/vms.lock.
FileLock lock_vm_records(const Paths& paths);

// Writes vm.json atomically. The caller holds lock_vm_records.
void write_record(const VmPaths& paths, const VmRecord& record);

// Reads vm.json. Throws Error when it is missing or malformed.
VmRecord read_record(const VmPaths& paths);

// Every folder under vms/ with a vm.json, sorted by creation time (newest first).
std::vector<VmRecord> read_all_records(const Paths& paths);

// Finds a VM by name, with or without the "isolab-" prefix. Throws Error (exit code 1)
// naming `vm ps -a` when there is none.
VmRecord require_record(const Paths& paths, const std::string& name);

// Returns the exit code from the last "isolab-init: exit code=N" line of a console log,
// or nothing when the guest did not write one.
std::optional<int> exit_code_from_console(const std::filesystem::path& log);

// Returns why a guest stopped before isolab-init reported an exit code, from its console
// log: isolab-init's last error line, else the kernel's first failure line (see
// describe_kernel_failure), else empty.
std::string failure_from_console(const std::filesystem::path& log);

// Converts between VmRecord and its JSON form (exposed for tests and inspect).
std::string record_to_json(const VmRecord& record);
VmRecord record_from_json(const std::string& text);

}  // namespace isolab::vm
