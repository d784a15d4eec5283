#pragma once
// The guest's initramfs: the image's rootfs as a newc cpio archive with isolab-init as
// /init and the workload's configuration in /.isolab/. The image part is built once per
// (image config digest, init digest) and cached. Each run appends a small workload cpio,
// because the kernel unpacks concatenated cpio archives in order.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::vm::guest {

// The workload the guest init runs, as stored in /.isolab/{argv,env,workdir,user}.
struct Workload {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH from `env` by the guest
    std::vector<std::string> env;   // "NAME=value"
    std::string workdir = "/";
    std::string user = "0:0";       // "uid:gid[:gid,gid...]", numeric
    // Kernel modules the init loads before anything else, in this order, as
    // {file name, content}; written to /.isolab/early-modules/. Empty for most guests.
    std::vector<std::pair<std::string, std::string>> early_modules;
    // Shared folders the init mounts over virtio-9p before the workload starts, written
    // to /.isolab/mounts as NUL-separated triples of mount tag, guest path and "ro"/"rw".
    struct SharedMount {
        std::string tag;
        std::string guest_path;  // absolute
        bool read_only = false;
    };
    std::vector<SharedMount> mounts;
    // The guest's /etc/resolv.conf, written to /.isolab/resolv.conf and copied into place
    // by the init. Empty: the image's own file, if any, stays.
    std::string resolv_conf;
};

// Builds the Workload for `image`: `command` (or Entrypoint + Cmd when empty), the image
// Env (PATH defaulted when missing), WorkingDir, and User resolved with resolve_user.
// Throws Error when there is no command to run or the user cannot be resolved.
Workload workload_for_image(const image::Image& image, const std::vector<std::string>& command,
                            const std::vector<std::filesystem::path>& lowerdirs);

// Resolves an image User ("", "name", "uid", "name:group", "uid:gid") to
// "uid:gid[:gid,gid...]" with the image's /etc/passwd and /etc/group, read from the
// layers (`lowerdirs`, top first). The supplementary groups are those listing the user
// by name in /etc/group. Throws Error naming the user when it is not found.
std::string resolve_user(const std::string& user, const std::vector<std::filesystem::path>& lowerdirs);

enum class InitramfsCompression { none, gzip };

// The cached image part of an initramfs and its size.
struct ImageInitramfs {
    std::filesystem::path path;
    std::uint64_t bytes = 0;
    bool reused = false;  // true when it came from the cache
};

// Returns the image part: the layers (`lowerdirs`, top first) merged with overlay
// semantics (the upper entry wins; a 0/0 character device whiteout hides the lower path;
// an opaque folder, trusted.overlay.opaque=y or a .wh..wh..opq entry, hides lower
// content), plus /init = isolab::init_binary(). Cached as
// <cache>/initramfs/<config hex>-<init hex>[.gz].cpio, built under a FileLock and
// renamed into place; world-readable for libvirt-qemu.
ImageInitramfs ensure_image_initramfs(const Paths& paths, const std::string& config_digest,
                                      const std::vector<std::filesystem::path>& lowerdirs,
                                      InitramfsCompression compression = InitramfsCompression::none);

// Writes a cpio of /.isolab/{argv,env,workdir,user} for `workload` to `destination`.
void write_workload_cpio(const Workload& workload, const std::filesystem::path& destination,
                         InitramfsCompression compression = InitramfsCompression::none);

// Writes `destination` (mode 0644; the caller keeps it in a folder that only root and
// QEMU's group may enter, as it contains the environment) as the image part followed by the
// workload cpio of `workload`. The image part is cloned (FICLONE) where the filesystem allows it and
// copied in the kernel (copy_file_range) otherwise. Returns the size in bytes.
std::uint64_t write_run_initramfs(const std::filesystem::path& image_part, const Workload& workload,
                                  const std::filesystem::path& destination,
                                  InitramfsCompression compression = InitramfsCompression::none);

// Merges `lowerdirs` (top first) into the folder `destination` (which must not exist)
// with the same whiteout rules as the initramfs, for the disk form's mkfs.ext4 -d.
void merge_layers(const std::vector<std::filesystem::path>& lowerdirs, const std::filesystem::path& destination);

}  // namespace isolab::vm::guest
