#pragma once
// The disk form of a guest: the image's rootfs as an ext4 filesystem in a qcow2 base
// image, cached per image, with a qcow2 overlay per VM so guests never write to the base.
// A small initramfs (isolab-init plus the virtio and ext4 modules) mounts /dev/vda and
// switches to it. No step goes through a shell, so paths may contain spaces and commas.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/guest/kernel.hpp"

namespace isolab::vm::guest {

// The cached qcow2 base of an image.
struct DiskBase {
    std::filesystem::path path;  // <cache>/disks/<config hex>.qcow2
    std::uint64_t bytes = 0;     // allocated on the host
    bool reused = false;
};

// Returns the qcow2 base for the image: the layers (`lowerdirs`, top first) merged into a
// folder, `mkfs.ext4 -d` into a raw file sized for the content plus headroom, then
// `qemu-img convert -O qcow2`. Built under a FileLock and renamed into place.
DiskBase ensure_disk_base(const Paths& paths, const std::string& config_digest,
                          const std::vector<std::filesystem::path>& lowerdirs);

// Removes what a process killed while building a guest cache file left in the cache: the
// work folders of base disks and the partial files of image initramfs parts. Takes each
// cache folder's build lock first, so a build in progress is waited for, not disturbed.
// Returns the removed paths. For `isolab system prune`.
std::vector<std::filesystem::path> prune_unfinished_guest_files(const Paths& paths);

// A per-VM copy-on-write overlay (`qemu-img create -f qcow2 -F qcow2 -b BASE`), removed by
// the destructor unless released.
class DiskOverlay {
public:
    DiskOverlay(const std::filesystem::path& base, const std::filesystem::path& overlay);
    ~DiskOverlay();
    DiskOverlay(const DiskOverlay&) = delete;
    DiskOverlay& operator=(const DiskOverlay&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path release();

private:
    std::filesystem::path path_;
    bool owned_ = true;
};

// Modules the disk form loads, in this order after dependency resolution.
std::vector<std::string> disk_module_names();

// Resolves `names` (module names such as "ext4"; '-' and '_' are equivalent) with the
// text of a modules.dep file to paths relative to the modules folder, every dependency
// before the modules needing it and each module once. Throws Error naming a module that
// modules.dep does not list.
std::vector<std::string> resolve_module_order(const std::string& modules_dep,
                                              const std::vector<std::string>& names);

// Modules that let the guest see the ACPI power button: button, and evdev, through which
// isolab-init reads its key events.
std::vector<std::string> power_button_module_names();

// Modules of the virtio NIC (eth0) and of virtio-9p shared folders.
std::vector<std::string> network_module_names();
std::vector<std::string> shared_folder_module_names();

// Returns the modules `names` with their dependencies, each once and in load order, as
// Workload::early_modules. Empty when `kernel` has no modules (a custom ISOLAB_KERNEL),
// whose guest then needs those drivers built in.
std::vector<std::pair<std::string, std::string>> early_modules(const GuestKernel& kernel,
                                                               const std::vector<std::string>& names);

// Writes the disk-form initramfs to `destination`: /init, the modules of
// disk_module_names() with their dependencies under /lib/modules/ (decompressed when
// shipped as .ko.xz), /.isolab/modules (their paths, one per line, in load order),
// /.isolab/root-device (`root_device`, e.g. /dev/vda) and the workload files, which the
// init copies to the disk's /.isolab/ before switch_root. Throws Error when `kernel` has
// no modules (a custom ISOLAB_KERNEL). Returns the size in bytes.
std::uint64_t write_disk_initramfs(const GuestKernel& kernel, const Workload& workload,
                                   const std::string& root_device, const std::filesystem::path& destination,
                                   InitramfsCompression compression = InitramfsCompression::none);

}  // namespace isolab::vm::guest
