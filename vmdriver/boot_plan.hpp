#pragma once
// The plan of `isolab vm boot-profile`: one guest booted with each start-up optimisation
// switched on one at a time through bare qemu-system-x86_64, then once through libvirt
// as `isolab vm run` boots it, so each optimisation and the libvirt overhead get a row.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm {

enum class BootPath {
    qemu,     // qemu-system-x86_64 started directly
    libvirt,  // isolab vm run: a transient libvirt domain
};

// One row of the profile. Each qemu step keeps the optimisations of the steps before it.
struct BootVariant {
    std::string name;         // e.g. "pvh-vmlinux"
    std::string change;       // what this step switches on, for the table
    BootPath path = BootPath::qemu;
    bool pvh_vmlinux = false;             // vmlinux through the PVH entry point, not the bzImage
    bool uncompressed_initramfs = false;  // plain cpio, not gzip
    bool trimmed_devices = false;         // -nodefaults -no-user-config: no VGA, NIC, IDE, floppy
    bool trimmed_cmdline = false;         // the trimmed kernel command line, quiet
    bool small_page_ram = false;          // guest RAM in 4 KiB pages where vm run uses them
    bool embedded_driver = false;         // libvirt row: libvirt's embedded QEMU driver, not libvirtd
};

// The rows in order: default, pvh-vmlinux, uncompressed-initramfs, trimmed-devices,
// trimmed-cmdline, small-pages (bare QEMU, each adding one optimisation, the last being the
// tuned bare boot), then libvirt (all of them)
// and libvirt-embedded (the same through libvirt's embedded driver, see vm.hpp).
std::vector<BootVariant> boot_profile_variants();

// The variants named in `names`, in plan order. An empty list selects all of them but
// libvirt-embedded. Throws Error naming an unknown variant and listing the known ones,
// and for libvirt together with libvirt-embedded.
std::vector<BootVariant> select_variants(const std::vector<std::string>& names);

// The files one guest can boot from, prepared once for every variant.
struct ProfileFiles {
    std::filesystem::path bzimage;
    std::filesystem::path vmlinux;           // the PVH ELF; empty when extraction failed
    std::filesystem::path initramfs_gzip;    // image part and workload, gzip; disk form: modules and workload
    std::filesystem::path initramfs_plain;   // the same, uncompressed
    // The disk form: a qcow2 overlay on the image's base, attached as /dev/vda on
    // virtio-blk as libvirt attaches it. Empty: the initramfs form.
    std::filesystem::path disk;
};

// The kernel file, initramfs and command line `variant` boots. A variant that asks for
// the PVH vmlinux when `files` has none boots the bzImage. `tcg` adds what the trimmed
// command line gives a guest under TCG, as `vm run` does.
std::filesystem::path variant_kernel(const BootVariant& variant, const ProfileFiles& files);
std::filesystem::path variant_initramfs(const BootVariant& variant, const ProfileFiles& files);
std::string variant_cmdline(const BootVariant& variant, bool tcg);

// The machine every variant uses: what libvirt gives an isolab domain.
struct ProfileMachine {
    std::string accelerator = "tcg";  // "kvm" or "tcg"
    std::uint64_t memory_mib = 256;
    unsigned cpus = 1;
};

// The name of the bare QEMU step with every optimisation, which the libvirt rows are compared with.
inline constexpr const char* kTunedQemuStep = "small-pages";

// Returns bare QEMU's -machine value and guest RAM arguments. With `small_pages` the RAM is
// a shared memfd in 4 KiB pages, as libvirt backs it for isolab's TCG domains.
std::string qemu_machine_option(const std::string& accelerator, bool small_pages);
std::vector<std::string> qemu_ram_arguments(std::uint64_t memory_mib, bool small_pages);

// The qemu-system-x86_64 argument list for a qemu variant, console on stdout. The CPU
// model is QEMU's default under TCG and the host's under KVM, as libvirt chooses it for
// isolab's domains, so only the variant's own switches differ from the libvirt row.
std::vector<std::string> qemu_boot_arguments(const BootVariant& variant, const ProfileFiles& files,
                                             const ProfileMachine& machine);

}  // namespace isolab::vm
