#pragma once
// The guest kernel: a Debian kernel package unpacked into the cache (never installed on
// the host), plus the uncompressed vmlinux extracted from its bzImage so QEMU can boot it
// through the PVH entry point and skip the decompression stub.
//
// Layout under <cache>/kernels/<release>/:
//   boot/vmlinuz-<release>, boot/config-<release>   from the package
//   lib/modules/<release>/                          .ko files and modules.dep (depmod -b)
//   vmlinux                                         extracted PVH ELF, when extraction worked
// Every folder is 0755 and every file world-readable, because libvirt's QEMU runs as
// libvirt-qemu and opens the kernel itself.
#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/core/paths.hpp"

namespace isolab::vm::guest {

// A kernel ready to boot, with the image QEMU should load and why it is that one.
struct GuestKernel {
    std::string release;                  // e.g. "6.1.0-57-amd64"
    std::filesystem::path bzimage;        // boot/vmlinuz-<release> (or the ISOLAB_KERNEL file)
    std::filesystem::path boot_image;     // what to pass as -kernel / <kernel>: vmlinux or bzimage
    std::string boot_format;              // "pvh-elf" (boot_image is vmlinux) or "bzimage"
    std::string fallback_reason;          // why boot_format is "bzimage"; empty for "pvh-elf"
    std::filesystem::path modules_dir;    // lib/modules/<release>; empty for a custom kernel
    std::uint64_t bzimage_bytes = 0;
    std::uint64_t boot_image_bytes = 0;
};

// Returns the guest kernel, downloading and unpacking it on first use.
//
// The package is the one Debian's linux-image-amd64 depends on (apt-cache depends; runs
// `apt-get update` once when the lookup fails). The name is recorded in
// <cache>/kernels/package and reused until /var/lib/apt/lists changes. It is fetched with `apt-get download` into a
// temporary folder under the cache, unpacked with `dpkg-deb -x` and renamed into
// <cache>/kernels/<release>/. A FileLock on <cache>/kernels/.lock serialises concurrent
// callers, and the rename makes the folder appear complete or not at all.
//
// ISOLAB_KERNEL=<path to a bzImage or vmlinux> boots that file instead (no modules, so
// the disk form is not available with it).
//
// Throws Error with a hint when apt has no source for the package or a step fails.
GuestKernel ensure_kernel(const Paths& paths);

// Returns the Debian package name of the current guest kernel, e.g.
// "linux-image-6.1.0-57-amd64", from `apt-cache depends linux-image-amd64`.
// Throws Error with a hint when apt lists no such package even after `apt-get update`.
std::string kernel_package_name();

}  // namespace isolab::vm::guest
