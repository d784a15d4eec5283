#pragma once
// Choosing the accelerator for a guest: KVM when it really runs a guest on this host,
// TCG (QEMU's emulator) otherwise.
//
// KVM_CREATE_VM succeeding proves little: under some nested setups the device opens and
// creates VMs, but a stock kernel then spins at 100% CPU and never boots. So `auto` boots
// a probe guest under KVM with a deadline, and caches the verdict per host in
// <cache>/accel.json, keyed by host kernel release, CPU model and QEMU version.
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "runtime/core/paths.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::vm {

// How long the KVM probe guest may take from create to its exit line. A working KVM
// boots the probe in about a second, and TCG on a slow host in well under 15 s, so a
// probe still running by then is hanging.
inline constexpr std::chrono::seconds kKvmProbeDeadline{15};

// What a cached verdict is valid for: a new kernel, CPU or QEMU may change the outcome.
struct HostKey {
    std::string kernel_release;  // uname -r of the host
    std::string cpu_model;       // "model name" of the first CPU in /proc/cpuinfo
    std::string qemu_version;    // as the libvirt connection reports it, e.g. "7.2.22"
    std::string kvm_device;      // mode, owner and group of /dev/kvm, e.g. "660 0:107": who may open it

    bool operator==(const HostKey&) const = default;
};

// Reads the host's kernel release, CPU model and /dev/kvm permissions; `qemu_version` is
// passed through.
HostKey current_host_key(std::string qemu_version);

// The version qemu-system-x86_64 in PATH reports ("7.2.22" from "QEMU emulator version
// 7.2.22 (Debian ...)"), or "unknown" when it cannot be run. isolab reads it from the
// binary and not with virConnectGetVersion: libvirt 9.0 answers that call from its QEMU
// capability cache, and on a host where that cache is never valid (KVM usable by the
// probe but not by the QEMU user) each call probes QEMU again, about 4 s. The binary
// takes about 0.1 s.
std::string qemu_binary_version();

// The same key for this host's qemu-system-x86_64, without asking libvirt.
HostKey current_host_key();

// qemu_binary_version, remembered in <cache>/qemu-version.json for the binary that PATH
// finds: while its path, inode, size and modification time stay the same, the version is
// read from that file instead of starting QEMU, which took 40 to 90 ms of every VM start
// on a 2-core host (strace -tt of `vm run`).
std::string cached_qemu_binary_version(const Paths& paths);

// current_host_key with cached_qemu_binary_version.
HostKey current_host_key(const Paths& paths);

// <cache>/accel.json
std::filesystem::path accel_cache_file(const Paths& paths);

// The cached verdict for `key`, if any. A missing or unreadable file is no verdict.
std::optional<AcceleratorVerdict> read_cached_verdict(const std::filesystem::path& file, const HostKey& key);

// Stores `verdict` for `key`, keeping the verdicts of other hosts (a shared cache).
void write_cached_verdict(const std::filesystem::path& file, const HostKey& key, const AcceleratorVerdict& verdict);

// Why /dev/kvm cannot create a VM ("cannot open /dev/kvm: ..."), or empty when
// KVM_CREATE_VM works.
std::string kvm_device_problem();

// Boots the probe guest under KVM with kKvmProbeDeadline. Returns empty on success, else
// the reason it failed.
using KvmProbe = std::function<std::string()>;

// Decides kvm or tcg for `requested`:
//   tcg:  TCG.
//   kvm:  KVM when /dev/kvm works and the probe (cached or run now) boots; otherwise
//         throws Error with the reason, within kKvmProbeDeadline.
//   auto: a TCG verdict cached for `key` as it is; else the same check, but falls back
//         to TCG and says why.
// ISOLAB_ACCEL (auto, kvm or tcg) replaces `requested` when it is `automatic`.
AcceleratorVerdict choose_accelerator(Accelerator requested, const Paths& paths, const HostKey& key,
                                      const KvmProbe& probe);

}  // namespace isolab::vm
