#include "runtime/linux/bind_mounts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/mounts.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

namespace {

void mount_checked(const char* source, const std::string& target, unsigned long flags, const std::string& what) {
    if (mount(source, target.c_str(), nullptr, flags, nullptr) != 0) throw_errno("mount " + what);
    spdlog::debug("mount: {}", what);
}

// The MS_* flags of the mount at `path` that a read-only remount must keep.
unsigned long kept_flags(const std::string& path) {
    struct statvfs info {};
    if (statvfs(path.c_str(), &info) != 0) throw_errno("statvfs " + path);
    unsigned long flags = 0;
    if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

void make_submounts_read_only(const std::string& path, const std::string& target) {
    mount_attr attributes{};
    attributes.attr_set = MOUNT_ATTR_RDONLY;
    if (syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), AT_RECURSIVE, &attributes, sizeof attributes) == 0) return;
    // NOTE: kernels before 5.12 have no mount_setattr, so mounts below the source of a
    // read-only bind stay writable there.
    if (errno == ENOSYS) {
        spdlog::warn("mount: mounts below {} stay writable: this kernel lacks mount_setattr", target);
        return;
    }
    throw_errno("make the mounts below " + target + " read-only");
}

void copy_tree(int source_dir, int destination_dir, const std::string& where);

void copy_metadata(int destination_dir, const char* name, const struct stat& info, const std::string& where) {
    if (fchownat(destination_dir, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        throw_errno("cannot set the owner of " + where + "/" + name);
    }
    if (!S_ISLNK(info.st_mode) && fchmodat(destination_dir, name, info.st_mode & 07777, 0) != 0) {
        throw_errno("cannot set the mode of " + where + "/" + name);
    }
    timespec times[2] = {info.st_atim, info.st_mtim};
    utimensat(destination_dir, name, times, AT_SYMLINK_NOFOLLOW);
}

void copy_file_content(int source_dir, int destination_dir, const char* name, const std::string& where) {
    UniqueFd input(openat(source_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (input.get() < 0) throw_errno("cannot open " + where + "/" + name + " in the image");
    UniqueFd output(openat(destination_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (output.get() < 0) throw_errno("cannot create " + std::string(name) + " in the volume");
    // read and write, because copy_file_range from overlayfs to another filesystem failed
    // with EXDEV on Linux 6.18.
    char buffer[65536];
    while (true) {
        ssize_t count = read(input.get(), buffer, sizeof buffer);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) throw_errno("cannot read " + where + "/" + name + " in the image");
        if (count == 0) return;
        for (ssize_t written = 0; written < count;) {
            ssize_t part = write(output.get(), buffer + written, static_cast<size_t>(count - written));
            if (part < 0 && errno == EINTR) continue;
            if (part < 0) throw_errno("cannot write " + std::string(name) + " into the volume");
            written += part;
        }
    }
}

void copy_entry(int source_dir, int destination_dir, const char* name, const std::string& where) {
    struct stat info {};
    if (fstatat(source_dir, name, &info, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("cannot stat " + where + "/" + name);

    if (S_ISDIR(info.st_mode)) {
        if (mkdirat(destination_dir, name, 0700) != 0) throw_errno("cannot create " + std::string(name) + " in the volume");
        UniqueFd source(openat(source_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd destination(openat(destination_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (source.get() < 0 || destination.get() < 0) throw_errno("cannot open " + where + "/" + name);
        copy_tree(source.get(), destination.get(), where + "/" + name);
    } else if (S_ISREG(info.st_mode)) {
        copy_file_content(source_dir, destination_dir, name, where);
    } else if (S_ISLNK(info.st_mode)) {
        std::string target(static_cast<size_t>(info.st_size) + 1, '\0');
        ssize_t length = readlinkat(source_dir, name, target.data(), target.size());
        if (length < 0) throw_errno("cannot read link " + where + "/" + name);
        target.resize(static_cast<size_t>(length));
        if (symlinkat(target.c_str(), destination_dir, name) != 0) throw_errno("cannot create link " + std::string(name));
    } else if (mknodat(destination_dir, name, info.st_mode, info.st_rdev) != 0) {
        throw_errno("cannot create " + where + "/" + name + " in the volume");
    }
    copy_metadata(destination_dir, name, info, where);
}

// NOTE: hard links are copied as separate files, and extended attributes are not copied.
void copy_tree(int source_dir, int destination_dir, const std::string& where) {
    int listing_fd = openat(source_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* listing = listing_fd < 0 ? nullptr : fdopendir(listing_fd);
    if (listing == nullptr) {
        if (listing_fd >= 0) close(listing_fd);
        throw_errno("cannot list " + where + " in the image");
    }
    try {
        while (auto* entry = readdir(listing)) {
            std::string name = entry->d_name;
            if (name == "." || name == "..") continue;
            copy_entry(source_dir, destination_dir, entry->d_name, where);
        }
    } catch (...) {
        closedir(listing);
        throw;
    }
    closedir(listing);
}

bool directory_is_empty(int fd) {
    int listing_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* listing = listing_fd < 0 ? nullptr : fdopendir(listing_fd);
    if (listing == nullptr) {
        if (listing_fd >= 0) close(listing_fd);
        throw_errno("cannot list the volume");
    }
    bool empty = true;
    while (auto* entry = readdir(listing)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") {
            empty = false;
            break;
        }
    }
    closedir(listing);
    return empty;
}

}  // namespace

void bind_mount(const fs::path& rootfs, const BindMount& bind) {
    struct stat source_info {};
    if (stat(bind.source.c_str(), &source_info) != 0) throw_errno("bind source " + bind.source.string());
    auto kind = S_ISDIR(source_info.st_mode) ? PathKind::directory : PathKind::file;
    auto what = bind.source.string() + " on " + bind.target.string();
    unsigned long recursive = bind.recursive ? static_cast<unsigned long>(MS_REC) : 0UL;
    {
        auto target = resolve_in_root(rootfs, bind.target, kind);
        mount_checked(bind.source.c_str(), target.proc_path(), MS_BIND | recursive, "bind " + what);
    }

    // The new mount covers what the first descriptor pointed to: resolve again.
    auto mounted = resolve_in_root(rootfs, bind.target, kind);
    auto path = mounted.proc_path();
    unsigned long propagation = (bind.slave ? MS_SLAVE : MS_PRIVATE) | recursive;
    mount_checked(nullptr, path, propagation, "make " + bind.target.string() + (bind.slave ? " slave" : " private"));
    if (!bind.read_only) return;

    mount_checked(nullptr, path, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(path), "remount " + bind.target.string() + " read-only");
    if (bind.recursive) make_submounts_read_only(path, bind.target.string());
}

bool copy_image_content(const fs::path& rootfs, const fs::path& path, const fs::path& destination) {
    UniqueFd root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) throw_errno("cannot open rootfs " + rootfs.string());
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    auto relative = path.relative_path().string();
    UniqueFd source(static_cast<int>(syscall(SYS_openat2, root.get(), relative.empty() ? "." : relative.c_str(), &how, sizeof how)));
    if (source.get() < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return false;  // nothing in the image at that path
        throw_errno("cannot open " + path.string() + " in the image");
    }

    UniqueFd target(open(destination.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (target.get() < 0) throw_errno("cannot open volume folder " + destination.string());
    // Two containers that start at once on the same new volume copy one after the other,
    // and the second then finds the volume filled. Closing the descriptor unlocks.
    while (flock(target.get(), LOCK_EX) != 0) {
        if (errno != EINTR) throw_errno("cannot lock volume folder " + destination.string());
    }
    if (!directory_is_empty(target.get())) return false;

    copy_tree(source.get(), target.get(), path.string());
    struct stat info {};
    if (fstat(source.get(), &info) != 0) throw_errno("cannot stat " + path.string() + " in the image");
    if (fchown(target.get(), info.st_uid, info.st_gid) != 0 || fchmod(target.get(), info.st_mode & 07777) != 0) {
        throw_errno("cannot set the owner and mode of volume folder " + destination.string());
    }
    spdlog::debug("mount: copied the image's {} into {}", path.string(), destination.string());
    return true;
}

}  // namespace isolab::kernel
