#pragma once
// Running an image as a virtual machine through libvirt: the image's rootfs becomes the
// guest's initramfs (or disk), a Debian kernel boots it, isolab-init runs the workload and
// reports phases and the exit code on the serial console, then powers the guest off.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"
#include "vmdriver/guest/cmdline.hpp"
#include "vmdriver/guest/kernel.hpp"
#include "vmdriver/record.hpp"

namespace isolab::vm {

enum class Accelerator { automatic, kvm, tcg };

// Parses "auto", "kvm" or "tcg"; throws Error otherwise.
Accelerator parse_accelerator(std::string_view text);

struct AcceleratorVerdict {
    std::string used;    // "kvm" or "tcg"
    std::string reason;  // why, e.g. "KVM probe boot timed out after 10 s; using TCG"
};

// Receives each line of the workload's console output with the host time it arrived.
using ConsoleLineHandler = std::function<void(std::string_view line, Clock::time_point when)>;

struct VmOptions {
    std::string image;
    std::vector<std::string> command;   // empty: the image's Entrypoint + Cmd
    std::vector<std::string> env;       // "NAME=value", added to (or replacing) the image's Env
    std::string name;                   // empty: generated, always with the "isolab-" prefix
    std::uint64_t memory_bytes = 256ULL << 20;
    unsigned cpus = 1;
    Accelerator accelerator = Accelerator::automatic;
    std::string connect_uri;            // empty: ISOLAB_LIBVIRT_URI, else qemu:///system
    guest::RootForm form = guest::RootForm::initramfs;
    std::chrono::seconds timeout{300};  // the guest is destroyed after this long
    ConsoleLineHandler on_console_line; // unset: workload output goes to stdout
    // run: polled every 50 ms; once it returns true the domain is destroyed and run
    // returns with VmResult::stopped_on_request set (a workload that runs until stopped).
    std::function<bool()> stop_requested;
    bool auto_remove = false;           // remove the record once the VM has exited
    bool keep_record = false;           // run: write vms/<name>/vm.json while the VM runs, as `vm run` does
    std::string network = "none";       // "none", "bridge" (isolab0, the CLI's default) or a network of `isolab network create`
    std::vector<std::string> publish;   // -p values, [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]
    std::vector<std::string> volumes;   // -v values, HOST_FOLDER:GUEST_PATH[:ro|rw]
    // run: when the VM was requested (the CLI passes its process start). Phases then
    // count from it, and isolab-start marks the call of run. Unset: they count from the call.
    std::optional<Clock::time_point> requested_at;
};

struct VmResult {
    std::string name;                   // libvirt domain name
    int exit_code = -1;                 // the workload's, as the guest init reported it
    AcceleratorVerdict accelerator;
    std::string guest_kernel;           // kernel release booted, e.g. "6.1.0-57-amd64"
    PhaseRecorder phases;               // in time order; run() lists them
    double guest_uptime_at_ready_ms = -1;
    std::uint64_t memory_bytes = 0;           // guest RAM configured
    std::uint64_t qemu_pss_peak_bytes = 0;    // max PSS of the QEMU process while it ran
    // PSS of QEMU's guest RAM mapping (the guest RAM touched) in the sample where the
    // total peaked; the rest of that peak is QEMU's own memory. Nothing when not found.
    std::optional<std::uint64_t> guest_ram_pss_at_peak_bytes;
    bool stopped_on_request = false;          // stop_requested ended the run, exit_code is -1
    std::string pss_definition;               // how qemu_pss_peak_bytes was measured
    std::string init_error;                   // isolab-init's `error` line, when it wrote one
    std::string machine;                      // QEMU machine type, e.g. "pc"
    std::uint64_t kernel_bytes = 0;
    std::uint64_t initramfs_bytes = 0;
    // Disk form only (0 otherwise): bytes allocated on the host by the image's cached qcow2
    // base, shared by every VM of the image, and by this VM's overlay when the guest ended.
    std::uint64_t disk_base_bytes = 0;
    std::uint64_t disk_overlay_bytes = 0;
    std::string address;                      // the guest's IPv4 address; empty with --network none
};

// Boots the image, runs the workload to completion and removes the domain.
// VmResult::phases, each the end of a step, in time order:
//   isolab-start       run was called (only with VmOptions::requested_at)
//   libvirt-connect    the libvirt connection is open (an embedded driver starts here)
//   accelerator        KVM or TCG chosen (with keep_record, after the record is written)
//   network            the guest's address and ports are set up (bridge networks only)
//   image              kernel and image found, workload and its modules resolved
//   initramfs          the run's initramfs (or disk overlay) written
//   define, qemu-exec, create, qemu-up, first-serial-byte, kernel-start, init-start,
//   workload-start, ready, exit, stopped   see libvirt::boot
// With `keep_record`, the VM has a record in vms/<name>/ naming this process as its owner,
// so `vm ps`, `vm inspect` and `vm logs` see it while it runs; the exit is recorded when
// it ends, and `auto_remove` removes the record then.
// Throws Error when the VM cannot be started (libvirtd not reachable, no kernel, ...).
VmResult run(image::Store& store, const VmOptions& options);

// When this process was created, to 10 ms (from /proc/self/stat), or now when /proc
// cannot tell. For VmOptions::requested_at.
Clock::time_point this_process_start();

// Boots the image as a detached VM: the domain keeps running after this call returns and
// virtlogd writes its serial console to vms/<name>/console.log. Writes the VM's record
// (see record.hpp) and returns it. `timeout` and `on_console_line` are not used.
// Throws Error when the name is taken (by a record or a leftover domain) or the VM
// cannot start; nothing is left behind then.
VmRecord run_detached(image::Store& store, const VmOptions& options);

// The accelerator `run` would choose, for guests started without libvirt (bare QEMU).
// Connects to `connect_uri` only when the KVM probe has to run.
AcceleratorVerdict choose_host_accelerator(image::Store& store, Accelerator requested, const std::string& connect_uri);

// The kernel `run` boots (downloaded into the cache on first use) and which file QEMU loads.
guest::GuestKernel guest_kernel(const Paths& paths);

// Returns the URI of isolab's own embedded libvirt QEMU driver under the state root
// (qemu:///embed?root=STATE/libvirt-embedded). The driver runs inside the calling process
// without libvirtd, and its QEMU runs as root. Where only root may open /dev/kvm, the
// system driver probes QEMU again on every capability lookup (seconds per VM start), and
// this driver does not. One process at a time may use it, which suits `vm boot-profile`.
std::string embedded_driver_uri(const Paths& paths);

// A domain isolab created, as libvirt lists it.
struct DomainListing {
    std::string name;
    std::string state;          // "running", "paused", "shut off", ...
    std::uint64_t memory_bytes = 0;
    unsigned vcpus = 0;
};

// The "isolab-" domains on the connection (`connect_uri` as in VmOptions).
std::vector<DomainListing> list_domains(const std::string& connect_uri);

// Destroys every leftover "isolab-" domain (and undefines persistent ones) on
// `connect_uri`; returns their names. For `isolab system prune`. The domains of VMs that
// `paths` records as running are no leftovers and are kept.
std::vector<std::string> prune_domains(const std::string& connect_uri, const Paths& paths);

// The same on isolab's embedded driver of `paths`, when its folder exists. Once a process
// has loaded the embedded driver it cannot connect to libvirtd, so this comes last.
std::vector<std::string> prune_embedded_domains(const Paths& paths);

// Removes the records and files of exited VMs; returns their names. For `isolab system
// prune`. Records of libvirtd's VMs are looked at before those of the embedded driver.
std::vector<std::string> prune_vms(const Paths& paths);

}  // namespace isolab::vm
