#include "vmdriver/guest/kernel.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "vmdriver/guest/vmlinux.hpp"

namespace isolab::vm::guest {

namespace fs = std::filesystem;

namespace {

constexpr const char* meta_package = "linux-image-amd64";
constexpr const char* package_prefix = "linux-image-";
// Written beside the unpacked kernel when vmlinux extraction failed, so later runs reuse
// the reason instead of decompressing the kernel again.
constexpr const char* fallback_reason_file = "vmlinux.fallback-reason";
// The package name from the last apt-cache lookup. apt-cache takes about a second, and
// its answer only changes when apt-get update rewrites /var/lib/apt/lists.
constexpr const char* package_record_file = "package";
constexpr const char* apt_lists = "/var/lib/apt/lists";

const char* no_source_hint =
    "add a Debian main source to /etc/apt/sources.list (deb http://deb.debian.org/debian bookworm main), "
    "run apt-get update, or set ISOLAB_KERNEL to a bzImage or vmlinux file";

std::string find_dependency(const std::string& depends_output) {
    std::istringstream lines(depends_output);
    std::string line;
    while (std::getline(lines, line)) {
        auto marker = line.find("Depends:");
        if (marker == std::string::npos) continue;
        std::string name = line.substr(marker + 8);
        std::erase_if(name, [](char c) { return c == ' ' || c == '<' || c == '>'; });
        if (name.starts_with(package_prefix)) return name;
    }
    return {};
}

std::string lookup_kernel_package() {
    auto result = run_command({"apt-cache", "depends", meta_package});
    return result.exit_code == 0 ? find_dependency(result.output) : std::string{};
}

// Makes every folder 0755 and every file readable by all, as libvirt-qemu must read them.
void make_world_readable(const fs::path& root) {
    fs::permissions(root, fs::perms(0755));
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (entry.is_symlink()) continue;
        if (entry.is_directory()) {
            fs::permissions(entry.path(), fs::perms(0755));
        } else {
            fs::permissions(entry.path(), fs::perms::others_read | fs::perms::group_read | fs::perms::owner_read,
                            fs::perm_options::add);
        }
    }
}

// Lets libvirt-qemu traverse from / to `folder`: adds o+x to the folders isolab created
// and leaves the rest. A VM start then names a closed folder in its error (vm.cpp); a
// warning here only repeated that line before it, once per kernel lookup.
void make_traversable(const fs::path& folder) {
    fs::create_directories(folder);
    for (fs::path current = folder; current != current.root_path(); current = current.parent_path()) {
        struct stat info {};
        if (stat(current.c_str(), &info) != 0 || (info.st_mode & S_IXOTH) != 0) continue;
        if (current.filename().string().find("isolab") != std::string::npos || current == folder) {
            fs::permissions(current, fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
        } else {
            spdlog::debug("{} is not traversable by other users, so libvirt's QEMU cannot open guest files under it",
                          current.string());
        }
    }
}

fs::path download_package(const std::string& package, const fs::path& folder) {
    auto result = run_command({"apt-get", "download", package}, {.working_directory = folder.string()});
    if (result.exit_code != 0) {
        throw Error("apt-get download " + package + " failed: " + result.output, no_source_hint);
    }
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() == ".deb") return entry.path();
    }
    throw Error("apt-get download " + package + " left no .deb file in " + folder.string());
}

// Keeps boot/vmlinuz-*, boot/config-* and lib/modules/<release>/; drops the rest.
void prune_package_tree(const fs::path& tree, const std::string& release) {
    for (const auto& entry : fs::directory_iterator(tree)) {
        auto name = entry.path().filename().string();
        if (name != "boot" && name != "lib") fs::remove_all(entry.path());
    }
    for (const auto& entry : fs::directory_iterator(tree / "boot")) {
        auto name = entry.path().filename().string();
        if (!name.starts_with("vmlinuz-") && !name.starts_with("config-")) fs::remove_all(entry.path());
    }
    for (const auto& entry : fs::directory_iterator(tree / "lib")) {
        if (entry.path().filename() != "modules") fs::remove_all(entry.path());
    }
    for (const auto& entry : fs::directory_iterator(tree / "lib" / "modules")) {
        if (entry.path().filename() != release) fs::remove_all(entry.path());
    }
}

void unpack_kernel(const std::string& package, const std::string& release, const fs::path& destination,
                   const fs::path& kernels) {
    TemporaryDirectory work(kernels, ".download-");
    spdlog::info("downloading guest kernel {} (once; cached in {})", package, destination.string());
    fs::path deb = download_package(package, work.path());

    fs::path tree = work.path() / "tree";
    run_checked({"dpkg-deb", "-x", deb.string(), tree.string()});
    fs::remove(deb);
    if (!fs::exists(tree / "boot" / ("vmlinuz-" + release))) {
        throw Error(package + " contains no boot/vmlinuz-" + release);
    }
    prune_package_tree(tree, release);
    spdlog::debug("unpacked {} into {}", deb.filename().string(), tree.string());

    // The package ships no modules.dep: the host's postinst would run depmod.
    run_checked({"depmod", "-b", tree.string(), release},
                {.extra_environment = {"PATH=/usr/sbin:/sbin:/usr/bin:/bin"}});

    auto extraction = extract_vmlinux(tree / "boot" / ("vmlinuz-" + release), tree / "vmlinux");
    if (!extraction.extracted) write_file_atomic(tree / fallback_reason_file, extraction.failure_reason);

    make_world_readable(tree);
    fs::rename(tree, destination);
    spdlog::debug("guest kernel {} ready in {}", release, destination.string());
}

std::string bzimage_version(const fs::path& file) {
    // kernel_version (0x20e) points to a NUL-terminated string at that offset + 0x200.
    std::string image = read_file(file);
    parse_setup_header(image);
    std::size_t pointer = static_cast<unsigned char>(image[0x20e]) | static_cast<unsigned char>(image[0x20f]) << 8;
    std::size_t start = pointer + 0x200;
    if (pointer == 0 || start >= image.size()) return {};
    std::string text = image.substr(start, std::min<std::size_t>(256, image.size() - start));
    return text.substr(0, text.find_first_of(std::string_view(" \0", 2)));
}

GuestKernel custom_kernel(const fs::path& file) {
    if (!fs::is_regular_file(file)) {
        throw Error("ISOLAB_KERNEL=" + file.string() + " is not a file", "point ISOLAB_KERNEL at a bzImage or a vmlinux");
    }
    GuestKernel kernel;
    kernel.bzimage = fs::absolute(file);
    kernel.boot_image = kernel.bzimage;
    kernel.bzimage_bytes = kernel.boot_image_bytes = fs::file_size(file);
    std::string content = read_file(file);
    if (check_pvh_elf(content).empty()) {
        kernel.boot_format = "pvh-elf";
        kernel.release = file.filename().string();
        return kernel;
    }
    try {
        kernel.release = bzimage_version(file);
    } catch (const Error& error) {
        throw Error("ISOLAB_KERNEL=" + file.string() + " is neither a PVH vmlinux nor a bzImage: " + error.what(),
                    "point ISOLAB_KERNEL at a bzImage or a vmlinux, or unset it to use Debian's kernel");
    }
    if (kernel.release.empty()) kernel.release = file.filename().string();
    kernel.boot_format = "bzimage";
    kernel.fallback_reason = "ISOLAB_KERNEL names a bzImage";
    return kernel;
}

GuestKernel describe_kernel(const fs::path& folder, const std::string& release) {
    GuestKernel kernel;
    kernel.release = release;
    kernel.bzimage = folder / "boot" / ("vmlinuz-" + release);
    kernel.modules_dir = folder / "lib" / "modules" / release;
    kernel.bzimage_bytes = fs::file_size(kernel.bzimage);
    if (fs::exists(folder / "vmlinux")) {
        kernel.boot_image = folder / "vmlinux";
        kernel.boot_format = "pvh-elf";
    } else {
        kernel.boot_image = kernel.bzimage;
        kernel.boot_format = "bzimage";
        kernel.fallback_reason = fs::exists(folder / fallback_reason_file) ? read_file(folder / fallback_reason_file)
                                                                           : "no vmlinux was extracted";
    }
    kernel.boot_image_bytes = fs::file_size(kernel.boot_image);
    return kernel;
}

// The recorded package name when it is newer than apt's package lists, else empty.
std::string recorded_package(const fs::path& kernels) {
    std::error_code error;
    auto recorded_at = fs::last_write_time(kernels / package_record_file, error);
    if (error) return {};
    auto lists_changed_at = fs::last_write_time(apt_lists, error);
    if (error || lists_changed_at >= recorded_at) return {};
    std::string package = read_file(kernels / package_record_file);
    return package.starts_with(package_prefix) ? package : std::string{};
}

std::string current_package(const fs::path& kernels) {
    std::string package = recorded_package(kernels);
    if (!package.empty()) {
        spdlog::debug("guest kernel package {} (recorded; apt lists unchanged since)", package);
        return package;
    }
    package = kernel_package_name();
    write_file_atomic(kernels / package_record_file, package);
    return package;
}

}  // namespace

std::string kernel_package_name() {
    std::string package = lookup_kernel_package();
    if (!package.empty()) return package;

    spdlog::info("apt-cache lists no {}; running apt-get update", meta_package);
    run_command({"apt-get", "update", "-qq"});
    package = lookup_kernel_package();
    if (package.empty()) {
        throw Error(std::string("no Debian guest kernel: apt-cache lists no ") + meta_package + " dependency",
                    no_source_hint);
    }
    return package;
}

GuestKernel ensure_kernel(const Paths& paths) {
    if (const char* custom = std::getenv("ISOLAB_KERNEL"); custom != nullptr && *custom != '\0') {
        GuestKernel kernel = custom_kernel(custom);
        spdlog::debug("guest kernel from ISOLAB_KERNEL: {} ({})", kernel.boot_image.string(), kernel.boot_format);
        return kernel;
    }

    make_traversable(paths.kernels());
    std::string package = current_package(paths.kernels());
    std::string release = package.substr(std::string_view(package_prefix).size());
    fs::path folder = paths.kernels() / release;

    if (!fs::exists(folder)) {
        FileLock lock(paths.kernels() / ".lock");
        if (!fs::exists(folder)) unpack_kernel(package, release, folder, paths.kernels());
    }
    GuestKernel kernel = describe_kernel(folder, release);
    spdlog::debug("guest kernel {}: boot {} ({}, {} bytes)", release, kernel.boot_image.string(), kernel.boot_format,
                  kernel.boot_image_bytes);
    return kernel;
}

}  // namespace isolab::vm::guest
