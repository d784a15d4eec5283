#pragma once
// Mounts: the container's rootfs (overlayfs over the image layers), what goes inside it
// (/proc, /sys, a minimal /dev, tmpfs mounts, read-only bind mounts), pivot_root into it,
// and the masked and read-only paths that hide host information from the workload.
//
// These functions run in the container's first process, inside its new mount namespace:
// every mount disappears with that namespace, so none of them is ever visible on the host.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace isolab::kernel {

// True when the kernel lists overlay in /proc/filesystems.
bool overlay_available();

// Makes every mount of the current namespace private, so nothing mounted here propagates
// back to the host (systemd makes / shared by default).
void make_mounts_private();

// Returns `path` as an overlayfs option value: overlayfs splits its options at ',' and
// lowerdir at ':', and takes a backslash in front of either (or of itself) as an escape.
std::string overlay_option_path(const std::filesystem::path& path);

// Mounts overlayfs on `target`: lowerdirs top layer first, then the writable upperdir and
// its workdir (same filesystem as upperdir). Every path may contain ',', ':' and '\'.
void mount_overlay(const std::vector<std::filesystem::path>& lowerdirs, const std::filesystem::path& upperdir,
                   const std::filesystem::path& workdir, const std::filesystem::path& target);

// An open O_PATH descriptor of a path resolved inside a root, closed by the destructor.
// Mounting on "/proc/self/fd/<fd>" mounts on the resolved folder itself, so a symbolic link
// in the image can never redirect a mount outside the rootfs.
class ResolvedPath {
public:
    explicit ResolvedPath(int fd) : fd_(fd) {}
    ~ResolvedPath();
    ResolvedPath(ResolvedPath&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    ResolvedPath(const ResolvedPath&) = delete;
    ResolvedPath& operator=(const ResolvedPath&) = delete;

    int fd() const { return fd_; }
    // "/proc/self/fd/<fd>", usable as a mount target or source.
    std::string proc_path() const;
    // The path the descriptor points to, as the kernel reports it.
    std::filesystem::path real_path() const;

private:
    int fd_;
};

enum class PathKind { directory, file };

// Resolves `path` inside `root` as if `root` were "/" (openat2 RESOLVE_IN_ROOT: absolute
// symbolic links and ".." stay inside), creating missing components as folders, and the
// last one as `kind`.
ResolvedPath resolve_in_root(const std::filesystem::path& root, const std::filesystem::path& path,
                             PathKind kind = PathKind::directory);

// A tmpfs mount requested with --tmpfs PATH[:OPTIONS].
struct TmpfsMount {
    std::filesystem::path target;  // absolute, inside the container
    unsigned long flags = 0;       // MS_* from the options
    std::string data;              // the remaining options, passed to tmpfs (size=, mode=)
};

// Parses "PATH[:OPTIONS]" (options comma separated, e.g. "size=64m,mode=1777,noexec").
// Throws Error when PATH is not absolute.
TmpfsMount parse_tmpfs(std::string_view text);

// Mounts /proc, /sys (read-only) and a minimal /dev (tmpfs with null, zero, full, random,
// urandom and tty bound from the host, devpts with ptmx, shm and mqueue) inside `rootfs`.
void mount_kernel_filesystems(const std::filesystem::path& rootfs, bool sys_read_only = true);

// Binds the host's null, zero, full, random, urandom and tty at /dev/NAME inside `rootfs`.
void bind_default_devices(const std::filesystem::path& rootfs);

// Binds the host device node `host_path` at `container_path` inside `rootfs` (--device).
void bind_device(const std::filesystem::path& rootfs, const std::filesystem::path& host_path,
                 const std::filesystem::path& container_path);

// Creates /dev/ptmx (to pts/ptmx), fd, stdin, stdout and stderr as symbolic links inside
// `rootfs`, keeping entries that exist.
void link_default_dev_entries(const std::filesystem::path& rootfs);

// Mounts a tmpfs inside `rootfs` at a target resolved inside it.
void mount_tmpfs(const std::filesystem::path& rootfs, const TmpfsMount& mount);

// Binds a host file read-only at `target` inside `rootfs`.
void bind_file_read_only(const std::filesystem::path& source, const std::filesystem::path& rootfs,
                         const std::filesystem::path& target);

// Makes `rootfs` the root of the mount namespace with pivot_root and detaches the old root.
void pivot_root_into(const std::filesystem::path& rootfs);

// Paths under /proc and /sys that leak host information, hidden as Docker hides them.
const std::vector<std::string>& default_masked_paths();
// Paths under /proc that would let the workload change the host's kernel, made read-only.
const std::vector<std::string>& default_read_only_paths();

// Hides each existing path: /dev/null over files, an empty read-only tmpfs over folders.
void mask_paths(const std::vector<std::string>& paths);
// Remounts each existing path read-only.
void make_paths_read_only(const std::vector<std::string>& paths);
// Remounts "/" read-only (--read-only); mounts below it keep their own flags.
void make_root_read_only();

}  // namespace isolab::kernel
