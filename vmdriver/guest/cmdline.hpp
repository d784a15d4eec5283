#pragma once
// The guest kernel command line. The "trimmed" profile skips hardware probing and
// self-tests that a disposable VM on QEMU does not need, so the kernel reaches /init
// sooner. The "default" profile keeps the normal boot, so a boot profile can show what
// the trimming saves.
#include <string>
#include <vector>

namespace isolab::vm::guest {

enum class CmdlineProfile { default_boot, trimmed };

// Parses "default" or "trimmed"; throws Error otherwise.
CmdlineProfile parse_cmdline_profile(const std::string& text);

enum class RootForm {
    initramfs,  // the image's rootfs is the initramfs; /init runs the workload from it
    disk,       // a small initramfs loads virtio/ext4 modules and switches to /dev/vda
};

// Parses the value of --form, "initramfs" or "disk"; throws Error otherwise.
RootForm parse_root_form(const std::string& text);

struct CmdlineOptions {
    CmdlineProfile profile = CmdlineProfile::trimmed;
    RootForm form = RootForm::initramfs;
    bool quiet = true;  // false: full kernel log on the console (slower under TCG)
    std::string address;  // eth0's IPv4 address with prefix, "10.89.0.2/24"; empty: no NIC
    std::string gateway;  // the default route's gateway, "10.89.0.1"
    bool tcg = false;     // the guest runs under TCG, QEMU's emulator, not on KVM
};

// The parameters, in order, each one documented in cmdline.cpp with its reason.
std::vector<std::string> kernel_parameters(const CmdlineOptions& options = {});

// kernel_parameters joined with spaces, ready for -append or <cmdline>.
std::string kernel_cmdline(const CmdlineOptions& options = {});

}  // namespace isolab::vm::guest
