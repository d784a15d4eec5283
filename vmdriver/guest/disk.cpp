#include "vmdriver/guest/disk.hpp"

#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "vmdriver/guest/cpio_writer.hpp"
#include "vmdriver/guest/vmlinux.hpp"

namespace isolab::vm::guest {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mebibyte = 1ULL << 20;

// The name prefix of a base disk's work folder in <cache>/disks while it is built.
constexpr std::string_view kBuildFolderPrefix = ".build-";

// "kernel/fs/ext4/ext4.ko.xz" -> "ext4"; modprobe treats '-' and '_' alike.
std::string module_name(const std::string& path) {
    std::string name = fs::path(path).filename().string();
    name = name.substr(0, name.find(".ko"));
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

std::string normalise(std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

// The inodes of the disk: one per entry of the rootfs, half as many again, and 16384 for
// what the workload creates. mkfs.ext4 would otherwise size them by bytes alone (one per
// 4 or 16 KiB), and an image of many small files ran out of inodes.
std::uint64_t inode_count(std::uint64_t entries) { return entries + entries / 2 + 16384; }

// ext4 needs room beyond the file data for metadata and the journal; the workload may
// also write to its rootfs. 50 % plus 64 MiB, plus the inode table (256 bytes an inode), is
// an estimate that fits small images.
std::uint64_t filesystem_size(std::uint64_t content_bytes, std::uint64_t inodes) {
    std::uint64_t size = content_bytes + content_bytes / 2 + 64 * mebibyte + inodes * 256;
    return (size + mebibyte - 1) / mebibyte * mebibyte;
}

std::uint64_t count_entries(const fs::path& root) {
    std::uint64_t entries = 1;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) ++entries;
    return entries;
}

void build_disk_base(const fs::path& destination, const std::vector<fs::path>& lowerdirs, const fs::path& work) {
    fs::path rootfs = work / "rootfs";
    merge_layers(lowerdirs, rootfs);
    std::uint64_t inodes = inode_count(count_entries(rootfs));
    std::uint64_t size = filesystem_size(apparent_size(rootfs), inodes);

    fs::path raw = work / "rootfs.ext4";
    run_checked({"mkfs.ext4", "-q", "-F", "-L", "isolab-root", "-m", "0", "-N", std::to_string(inodes), "-d",
                 rootfs.string(), raw.string(), std::to_string(size / 1024) + "k"});
    spdlog::debug("mkfs.ext4 -d {} into {} ({} bytes)", rootfs.string(), raw.string(), size);

    fs::path qcow2 = work / "base.qcow2";
    run_checked({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.string(), qcow2.string()});
    fs::permissions(qcow2, fs::perms(0644));
    fs::rename(qcow2, destination);
    spdlog::debug("qemu-img convert {} -> {}", raw.string(), destination.string());
}

std::string read_module(const fs::path& file) {
    std::string content = read_file(file);
    std::string extension = file.extension().string();
    if (extension == ".ko") return content;
    Compression compression = detect_compression(content);
    if (compression == Compression::unknown) throw Error("module " + file.string() + " has an unknown compression");
    return decompress_stream(content, compression);
}

// Adds every parent folder of `relative` not added yet; the kernel's cpio unpacker
// creates no missing parents.
void add_parent_folders(archive* writer, const fs::path& relative, std::set<std::string>& added) {
    fs::path parent;
    for (auto component = relative.begin(); std::next(component) != relative.end(); ++component) {
        parent /= *component;
        if (added.insert(parent.string()).second) cpio::add_memory_folder(writer, parent.string(), 0755);
    }
}

// Removes the entries of `folder` whose names contain `marker`. The caller holds the
// folder's build lock, so no build is writing them.
std::vector<fs::path> remove_unfinished(const fs::path& folder, std::string_view marker) {
    std::vector<fs::path> removed;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error)) {
        if (entry.path().filename().string().find(marker) == std::string::npos) continue;
        std::error_code ignored;
        fs::remove_all(entry.path(), ignored);
        removed.push_back(entry.path());
    }
    return removed;
}

}  // namespace

std::vector<fs::path> prune_unfinished_guest_files(const Paths& paths) {
    std::vector<fs::path> removed;
    for (const auto& [folder, marker] : {std::pair{paths.cache / "disks", kBuildFolderPrefix},
                                         std::pair{paths.cache / "initramfs", std::string_view(".partial-")}}) {
        if (!fs::is_directory(folder)) continue;
        FileLock lock(folder / ".lock");
        for (auto& path : remove_unfinished(folder, marker)) removed.push_back(std::move(path));
    }
    return removed;
}

DiskBase ensure_disk_base(const Paths& paths, const std::string& config_digest, const std::vector<fs::path>& lowerdirs) {
    std::string hex = config_digest.substr(config_digest.find(':') + 1);
    fs::path folder = paths.cache / "disks";
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms(0755));

    DiskBase base;
    base.path = folder / (hex + ".qcow2");
    base.reused = fs::exists(base.path);
    if (!base.reused) {
        FileLock lock(folder / ".lock");
        if (!fs::exists(base.path)) {
            // The work folder of a builder that was killed: it can hold a full raw disk.
            for (const auto& leftover : remove_unfinished(folder, kBuildFolderPrefix)) {
                spdlog::debug("removed the unfinished base disk build {}", leftover.string());
            }
            TemporaryDirectory work(folder, kBuildFolderPrefix);
            build_disk_base(base.path, lowerdirs, work.path());
        } else {
            base.reused = true;
        }
    }
    base.bytes = disk_usage(base.path);
    return base;
}

DiskOverlay::DiskOverlay(const fs::path& base, const fs::path& overlay) : path_(overlay) {
    // The backing format is always given: qemu-img 6.1 and later refuse a backing file
    // without one, because probing the format of guest-written data is unsafe.
    try {
        run_checked({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", fs::absolute(base).string(),
                     overlay.string()});
    } catch (const Error& error) {
        // qemu-img reads the base to make the overlay, so a base damaged on the host fails here.
        throw Error("cannot make a disk overlay on the image's base disk " + base.string() + ": " + error.what(),
                    "remove " + base.string() + " and start again: it is built anew from the image");
    }
    fs::permissions(overlay, fs::perms(0644));
    spdlog::debug("created qcow2 overlay {} on {}", overlay.string(), base.string());
}

DiskOverlay::~DiskOverlay() {
    if (!owned_) return;
    std::error_code ignored;
    fs::remove(path_, ignored);
}

fs::path DiskOverlay::release() {
    owned_ = false;
    return path_;
}

std::vector<std::string> disk_module_names() {
    // virtio_pci finds the virtio-blk-pci device and virtio_blk makes it /dev/vda.
    // crc32c_generic comes before ext4: ext4 and jbd2 request "crc32c" through the crypto
    // API (a soft dependency in modules.softdep), and the guest has no modprobe to load it.
    return {"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"};
}

std::vector<std::string> resolve_module_order(const std::string& modules_dep, const std::vector<std::string>& names) {
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> modules;
    std::istringstream lines(modules_dep);
    std::string line;
    while (std::getline(lines, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string path = line.substr(0, colon);
        std::vector<std::string> dependencies;
        std::istringstream words(line.substr(colon + 1));
        std::string word;
        while (words >> word) dependencies.push_back(word);
        modules[module_name(path)] = {path, dependencies};
    }

    std::vector<std::string> order;
    std::set<std::string> visited;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
        auto found = modules.find(name);
        if (found == modules.end()) {
            throw Error("kernel module " + name + " is not listed in modules.dep",
                        "the guest kernel may have it built in or lack it; check its config");
        }
        if (!visited.insert(name).second) return;
        for (const auto& dependency : found->second.second) visit(module_name(dependency));
        order.push_back(found->second.first);
    };
    for (const auto& name : names) visit(normalise(name));
    return order;
}

std::vector<std::string> power_button_module_names() { return {"button", "evdev"}; }

// virtio_pci first: each driver then binds to its device while its module loads, so eth0
// exists when the init looks for it.
std::vector<std::string> network_module_names() { return {"virtio_pci", "virtio_net"}; }

// 9p needs netfs and fscache (modules.dep lists them) even with caching off.
std::vector<std::string> shared_folder_module_names() { return {"virtio_pci", "9pnet_virtio", "9p"}; }

std::vector<std::pair<std::string, std::string>> early_modules(const GuestKernel& kernel,
                                                               const std::vector<std::string>& names) {
    std::vector<std::pair<std::string, std::string>> modules;
    if (kernel.modules_dir.empty() || names.empty()) return modules;
    for (const auto& module : resolve_module_order(read_file(kernel.modules_dir / "modules.dep"), names)) {
        std::string name = fs::path(module).filename().string();
        modules.emplace_back(name.substr(0, name.find(".ko") + 3), read_module(kernel.modules_dir / module));
    }
    return modules;
}

std::uint64_t write_disk_initramfs(const GuestKernel& kernel, const Workload& workload, const std::string& root_device,
                                   const fs::path& destination, InitramfsCompression compression) {
    if (kernel.modules_dir.empty()) {
        throw Error("the disk form needs the guest kernel's modules, and the kernel " + kernel.bzimage.string() +
                        " has none",
                    "unset ISOLAB_KERNEL to use the Debian kernel, or boot the initramfs form");
    }
    auto order = resolve_module_order(read_file(kernel.modules_dir / "modules.dep"), disk_module_names());

    cpio::FileDescriptor fd(open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno("cannot create " + destination.string());
    auto writer = cpio::open_cpio_writer(fd.get(), compression, destination.string());
    cpio::add_console_device(writer.get(), true);
    cpio::add_init(writer.get());

    std::set<std::string> folders;
    std::string module_list;
    fs::path modules_root = fs::path("lib/modules") / kernel.release;
    for (const auto& module : order) {
        std::string content = read_module(kernel.modules_dir / module);
        fs::path relative = modules_root / module.substr(0, module.find(".ko") + 3);
        add_parent_folders(writer.get(), relative, folders);
        cpio::add_memory_file(writer.get(), relative.string(), content, 0644);
        module_list += "/" + relative.string() + "\n";
    }
    spdlog::debug("disk initramfs modules: {}", module_list);

    cpio::add_workload_files(writer.get(), workload);
    cpio::add_memory_file(writer.get(), ".isolab/modules", module_list, 0644);
    cpio::add_memory_file(writer.get(), ".isolab/root-device", root_device + "\n", 0644);
    if (archive_write_close(writer.get()) != ARCHIVE_OK) {
        cpio::throw_archive(writer.get(), "cannot finish " + destination.string());
    }
    fs::permissions(destination, fs::perms(0644));
    return fs::file_size(destination);
}

}  // namespace isolab::vm::guest
