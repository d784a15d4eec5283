#include "runtime/linux/mounts.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

bool overlay_available() {
    std::ifstream filesystems("/proc/filesystems");
    std::string line;
    while (std::getline(filesystems, line)) {
        if (line.size() >= 7 && line.compare(line.size() - 7, 7, "overlay") == 0) return true;
    }
    return false;
}

namespace {

void mount_or_throw(const char* source, const std::string& target, const char* type, unsigned long flags,
                    const std::string& data, const std::string& what) {
    if (mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
        throw_errno("mount " + what);
    }
    spdlog::debug("mount: {}{}", what, data.empty() ? "" : " (" + data + ")");
}

int open_path_in_root(int root_fd, const std::string& relative, unsigned long long flags) {
    open_how how{};
    how.flags = flags;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how));
}

std::string join_components(const std::vector<std::string>& components, size_t count) {
    std::string joined;
    for (size_t i = 0; i < count; ++i) {
        if (!joined.empty()) joined += '/';
        joined += components[i];
    }
    return joined.empty() ? "." : joined;
}

// Creates the entry `name` in `parent` (a folder, or an empty file when last and a file
// is wanted). A dangling symbolic link in its place gets its target created inside the root.
void create_missing(int root_fd, const fs::path& root, int parent_fd, const std::string& parent,
                    const std::string& name, PathKind kind, int depth);

ResolvedPath resolve_in_root_at(int root_fd, const fs::path& root, const fs::path& path, PathKind kind, int depth) {
    if (depth > 40) throw Error("too many levels of symbolic links resolving " + path.string() + " in " + root.string());
    std::vector<std::string> components;
    for (const auto& component : path.relative_path()) {
        if (!component.empty() && component != ".") components.push_back(component.string());
    }

    for (size_t i = 1; i <= components.size(); ++i) {
        auto prefix = join_components(components, i);
        UniqueFd existing(open_path_in_root(root_fd, prefix, O_PATH | O_CLOEXEC));
        if (existing.get() >= 0) continue;
        if (errno != ENOENT) throw_errno("cannot resolve " + prefix + " in " + root.string());

        auto parent = join_components(components, i - 1);
        UniqueFd parent_fd(open_path_in_root(root_fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (parent_fd.get() < 0) throw_errno("cannot open /" + parent + " in " + root.string());
        bool last = i == components.size();
        create_missing(root_fd, root, parent_fd.get(), parent, components[i - 1], last ? kind : PathKind::directory, depth);
    }

    int fd = open_path_in_root(root_fd, join_components(components, components.size()), O_PATH | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot resolve " + path.string() + " in " + root.string());
    return ResolvedPath(fd);
}

void create_missing(int root_fd, const fs::path& root, int parent_fd, const std::string& parent,
                    const std::string& name, PathKind kind, int depth) {
    int result = 0;
    if (kind == PathKind::directory) {
        result = mkdirat(parent_fd, name.c_str(), 0755);
    } else {
        // O_PATH descriptors cannot create files: open the parent for real first.
        UniqueFd directory(openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        int file = directory.get() < 0 ? -1 : openat(directory.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        result = file < 0 ? -1 : 0;
        if (file >= 0) close(file);
    }
    if (result == 0) return;
    if (errno != EEXIST) throw_errno("cannot create /" + name + " in " + root.string() + "/" + parent);

    // The name exists but did not resolve: a symbolic link whose target is missing.
    char target[4096];
    ssize_t length = readlinkat(parent_fd, name.c_str(), target, sizeof target - 1);
    if (length < 0) throw_errno("cannot read link " + name + " in " + root.string() + "/" + parent);
    target[length] = '\0';
    fs::path link_target(target);
    fs::path inside = link_target.is_absolute() ? link_target : fs::path("/") / parent / link_target;
    resolve_in_root_at(root_fd, root, inside, kind, depth + 1);
}

bool is_directory(int fd) {
    struct stat info {};
    return fstat(fd, &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

ResolvedPath::~ResolvedPath() {
    if (fd_ >= 0) close(fd_);
}

std::string ResolvedPath::proc_path() const { return "/proc/self/fd/" + std::to_string(fd_); }

fs::path ResolvedPath::real_path() const {
    std::error_code error;
    auto path = fs::read_symlink(proc_path(), error);
    return error ? fs::path() : path;
}

ResolvedPath resolve_in_root(const fs::path& root, const fs::path& path, PathKind kind) {
    UniqueFd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd.get() < 0) throw_errno("cannot open rootfs " + root.string());
    auto resolved = resolve_in_root_at(root_fd.get(), root, path, kind, 0);
    if ((kind == PathKind::directory) != is_directory(resolved.fd())) {
        throw Error(path.string() + " in the container is " +
                    (kind == PathKind::directory ? "not a folder" : "a folder, a file is needed"));
    }
    return resolved;
}

void make_mounts_private() {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw_errno("make / private");
    spdlog::debug("mount: / and everything below made private");
}

std::string overlay_option_path(const fs::path& path) {
    std::string escaped;
    for (char c : path.string()) {
        if (c == '\\' || c == ',' || c == ':') escaped += '\\';
        escaped += c;
    }
    return escaped;
}

namespace {

std::string overlay_options(const std::vector<std::string>& lowerdirs, const fs::path& upperdir,
                            const fs::path& workdir) {
    std::string lower;
    for (const auto& layer : lowerdirs) {
        if (!lower.empty()) lower += ':';
        lower += layer;
    }
    return "lowerdir=" + lower + ",upperdir=" + overlay_option_path(upperdir) + ",workdir=" + overlay_option_path(workdir);
}

}  // namespace

void mount_overlay(const std::vector<fs::path>& lowerdirs, const fs::path& upperdir, const fs::path& workdir,
                   const fs::path& target) {
    std::vector<std::string> lower;
    for (const auto& layer : lowerdirs) lower.push_back(overlay_option_path(layer));
    auto options = overlay_options(lower, upperdir, workdir);

    // mount(2) copies at most one page of options, and the kernel fails on a longer string
    // with an error that names neither cause (ENOENT on 6.18). Then each layer is given as
    // /proc/self/fd/N of a descriptor open during the mount, about 17 bytes a layer.
    // NOTE: tried on a 6.18 kernel only; overlayfs resolves the paths with kern_path,
    // which follows /proc's fd links.
    auto page_size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<UniqueFd> layer_fds;
    if (options.size() >= page_size) {
        lower.clear();
        for (const auto& layer : lowerdirs) {
            UniqueFd fd(open(layer.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!fd) throw_errno("cannot open layer " + layer.string());
            lower.push_back("/proc/self/fd/" + std::to_string(fd.get()));
            layer_fds.push_back(std::move(fd));
        }
        options = overlay_options(lower, upperdir, workdir);
    }
    if (options.size() >= page_size) {
        throw Error(fmt::format("cannot mount overlay on {}: its {} layers take {} bytes of mount options, more than "
                                "the kernel's limit of {}",
                                target.string(), lowerdirs.size(), options.size(), page_size - 1),
                    "build the image with fewer layers (join RUN steps), or use a state root (ISOLAB_ROOT) with a "
                    "shorter path");
    }
    if (mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0) {
        int saved = errno;
        std::string hint;
        if (saved == ENODEV) hint = "overlayfs is not available: load it with 'modprobe overlay'";
        throw_errno(saved, "mount overlay on " + target.string(), hint);
    }
    spdlog::debug("mount: overlay on {} ({})", target.string(), options);
}

namespace {

// Rejects targets the container's own mounts occupy: the root, /dev (a tmpfs already)
// and /proc or /sys with anything below them, where a tmpfs would hide the kernel's files.
void check_tmpfs_target(std::string_view text, const fs::path& target) {
    auto normal = target.lexically_normal().generic_string();
    if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    auto below = [&normal](const std::string& folder) { return normal == folder || normal.rfind(folder + "/", 0) == 0; };
    if (normal == "/" || normal == "/dev" || below("/proc") || below("/sys")) {
        throw Error("invalid --tmpfs '" + std::string(text) + "': isolab mounts " + normal + " itself",
                    "choose another path, e.g. --tmpfs /run");
    }
}

// Checks a tmpfs mount option's name and the form of its value, so a typo fails here
// with the option named, not as EINVAL from mount(2).
void check_tmpfs_data_option(std::string_view text, const std::string& option) {
    auto equals = option.find('=');
    auto key = option.substr(0, equals);
    auto value = equals == std::string::npos ? std::string() : option.substr(equals + 1);
    auto all_of = [&value](const char* allowed) {
        return !value.empty() && value.find_first_not_of(allowed) == std::string::npos;
    };
    bool valid = false;
    if (key == "size" || key == "nr_blocks" || key == "nr_inodes") {
        std::string digits = value;
        if (!digits.empty() && std::string("kKmMgG%").find(digits.back()) != std::string::npos) digits.pop_back();
        valid = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    } else if (key == "mode") {
        valid = all_of("01234567") && value.size() <= 4;
    } else if (key == "uid" || key == "gid") {
        valid = all_of("0123456789");
    } else if (key == "huge") {
        valid = value == "never" || value == "always" || value == "within_size" || value == "advise";
    } else if (key == "mpol") {
        valid = !value.empty();
    } else {
        throw Error("invalid --tmpfs '" + std::string(text) + "': unknown option '" + option + "'",
                    "options: ro, rw, exec, noexec, suid, nosuid, dev, nodev, size=, mode=, uid=, gid=, nr_inodes=, "
                    "nr_blocks=, huge=, mpol=");
    }
    if (!valid) {
        throw Error("invalid --tmpfs '" + std::string(text) + "': invalid value in '" + option + "'",
                    "e.g. size=64m, mode=1777, uid=1000");
    }
}

}  // namespace

TmpfsMount parse_tmpfs(std::string_view text) {
    TmpfsMount mount;
    auto colon = text.find(':');
    mount.target = std::string(text.substr(0, colon));
    if (!mount.target.is_absolute()) {
        throw Error("invalid --tmpfs '" + std::string(text) + "': the path must be absolute", "e.g. --tmpfs /run:size=64m");
    }
    check_tmpfs_target(text, mount.target);
    mount.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (colon == std::string_view::npos) return mount;

    std::istringstream options{std::string(text.substr(colon + 1))};
    std::string option;
    while (std::getline(options, option, ',')) {
        if (option == "ro") mount.flags |= MS_RDONLY;
        else if (option == "rw") mount.flags &= ~static_cast<unsigned long>(MS_RDONLY);
        else if (option == "exec") mount.flags &= ~static_cast<unsigned long>(MS_NOEXEC);
        else if (option == "noexec") mount.flags |= MS_NOEXEC;
        else if (option == "suid") mount.flags &= ~static_cast<unsigned long>(MS_NOSUID);
        else if (option == "nosuid") mount.flags |= MS_NOSUID;
        else if (option == "dev") mount.flags &= ~static_cast<unsigned long>(MS_NODEV);
        else if (option == "nodev") mount.flags |= MS_NODEV;
        else if (!option.empty()) {
            check_tmpfs_data_option(text, option);
            mount.data += (mount.data.empty() ? "" : ",") + option;
        }
    }
    return mount;
}

namespace {

void mount_dev(const fs::path& rootfs) {
    {
        auto dev = resolve_in_root(rootfs, "/dev");
        mount_or_throw("tmpfs", dev.proc_path(), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
                       "tmpfs on /dev");
    }
    bind_default_devices(rootfs);
    {
        auto pts = resolve_in_root(rootfs, "/dev/pts");
        mount_or_throw("devpts", pts.proc_path(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5",
                       "devpts on /dev/pts");
    }
    {
        auto shm = resolve_in_root(rootfs, "/dev/shm");
        mount_or_throw("shm", shm.proc_path(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                       "tmpfs on /dev/shm");
    }
    {
        auto mqueue = resolve_in_root(rootfs, "/dev/mqueue");
        mount_or_throw("mqueue", mqueue.proc_path(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "mqueue on /dev/mqueue");
    }
    link_default_dev_entries(rootfs);
    spdlog::debug("mount: /dev has null, zero, full, random, urandom, tty, pts, ptmx, shm, mqueue");
}

}  // namespace

void bind_default_devices(const fs::path& rootfs) {
    for (const char* device : {"null", "zero", "full", "random", "urandom", "tty"}) {
        auto target = resolve_in_root(rootfs, fs::path("/dev") / device, PathKind::file);
        auto source = std::string("/dev/") + device;
        mount_or_throw(source.c_str(), target.proc_path(), nullptr, MS_BIND, "", "bind " + source + " on /dev/" + device);
    }
}

void bind_device(const fs::path& rootfs, const fs::path& host_path, const fs::path& container_path) {
    auto target = resolve_in_root(rootfs, container_path, PathKind::file);
    mount_or_throw(host_path.c_str(), target.proc_path(), nullptr, MS_BIND, "",
                   "bind " + host_path.string() + " on " + container_path.string());
}

void link_default_dev_entries(const fs::path& rootfs) {
    auto dev = resolve_in_root(rootfs, "/dev");
    const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                          {"/proc/self/fd", "fd"},
                                                          {"/proc/self/fd/0", "stdin"},
                                                          {"/proc/self/fd/1", "stdout"},
                                                          {"/proc/self/fd/2", "stderr"}};
    UniqueFd directory(openat(dev.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (const auto& [target, name] : links) {
        if (symlinkat(target, directory.get(), name) != 0 && errno != EEXIST) throw_errno(std::string("symlink /dev/") + name);
    }
}

void mount_kernel_filesystems(const fs::path& rootfs, bool sys_read_only) {
    {
        auto proc = resolve_in_root(rootfs, "/proc");
        mount_or_throw("proc", proc.proc_path(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "proc on /proc");
    }
    {
        auto sys = resolve_in_root(rootfs, "/sys");
        unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (sys_read_only ? MS_RDONLY : 0);
        mount_or_throw("sysfs", sys.proc_path(), "sysfs", flags, "", sys_read_only ? "sysfs on /sys (read-only)" : "sysfs on /sys");
    }
    mount_dev(rootfs);
}

void mount_tmpfs(const fs::path& rootfs, const TmpfsMount& tmpfs) {
    auto target = resolve_in_root(rootfs, tmpfs.target);
    mount_or_throw("tmpfs", target.proc_path(), "tmpfs", tmpfs.flags, tmpfs.data,
                   "tmpfs on " + tmpfs.target.string() + " (at " + target.real_path().string() + ")");
}

void bind_file_read_only(const fs::path& source, const fs::path& rootfs, const fs::path& target) {
    {
        auto mount_point = resolve_in_root(rootfs, target, PathKind::file);
        mount_or_throw(source.c_str(), mount_point.proc_path(), nullptr, MS_BIND, "",
                       "bind " + source.string() + " on " + target.string());
    }
    // The new mount covers the file the first descriptor pointed to: resolve again.
    auto mounted = resolve_in_root(rootfs, target, PathKind::file);
    mount_or_throw(nullptr, mounted.proc_path(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, "",
                   "remount " + target.string() + " read-only");
}

void pivot_root_into(const fs::path& rootfs) {
    if (chdir(rootfs.c_str()) != 0) throw_errno("chdir " + rootfs.string());
    // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "."
    // then detaches the old root without needing a folder for it inside the rootfs.
    if (syscall(SYS_pivot_root, ".", ".") != 0) throw_errno("pivot_root to " + rootfs.string());
    if (umount2(".", MNT_DETACH) != 0) throw_errno("detach the old root");
    if (chdir("/") != 0) throw_errno("chdir /");
    spdlog::debug("pivot_root: {} is now /", rootfs.string());
}

const std::vector<std::string>& default_masked_paths() {
    static const std::vector<std::string> paths{
        "/proc/asound",     "/proc/acpi",        "/proc/kcore",       "/proc/keys",     "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",     "/sys/firmware",
        "/sys/devices/virtual/powercap"};
    return paths;
}

const std::vector<std::string>& default_read_only_paths() {
    static const std::vector<std::string> paths{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    return paths;
}

void mask_paths(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) continue;
        if (S_ISDIR(info.st_mode)) {
            mount_or_throw("tmpfs", path, "tmpfs", MS_RDONLY, "size=0", "empty tmpfs over " + path);
        } else {
            mount_or_throw("/dev/null", path, nullptr, MS_BIND, "", "/dev/null over " + path);
        }
    }
}

void make_paths_read_only(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) continue;
        mount_or_throw(path.c_str(), path, nullptr, MS_BIND | MS_REC, "", "bind " + path + " on itself");
        mount_or_throw(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
                       "remount " + path + " read-only");
    }
}

void make_root_read_only() {
    mount_or_throw(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, "", "remount / read-only");
}

}  // namespace isolab::kernel
