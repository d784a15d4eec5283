#include "bench/reference_support.hpp"

#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/mounts.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;
using nlohmann::json;

OverlayRootfs::OverlayRootfs(const std::vector<fs::path>& lowerdirs, const fs::path& folder)
    : rootfs_(folder / "rootfs"), upperdir_(folder / "upper") {
    auto workdir = folder / "work";
    for (const auto& directory : {rootfs_, upperdir_, workdir}) fs::create_directories(directory);
    kernel::mount_overlay(lowerdirs, upperdir_, workdir, rootfs_);
    spdlog::debug("compare: mounted overlay on {}", rootfs_.string());
}

OverlayRootfs::~OverlayRootfs() {
    if (umount2(rootfs_.c_str(), MNT_DETACH) != 0) {
        spdlog::warn("cannot unmount {}: {}", rootfs_.string(), std::strerror(errno));
    }
}

ParentCgroup::ParentCgroup() : name_("isolab-bench-" + random_hex_id().substr(0, 12)), host_(kernel::detect_cgroups()) {
    cgroup_ = kernel::create_cgroup(host_, name_);
}

ParentCgroup::~ParentCgroup() {
    // runc and crun also create the cgroup in named hierarchies (name=systemd).
    std::vector<fs::path> folders;
    for (const auto& mount_point : kernel::cgroup_mount_points(host_)) folders.push_back(mount_point / name_);

    // podman leaves an empty "conmon" cgroup below the parent, which blocks its rmdir.
    for (const auto& folder : folders) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(folder, error)) {
            // conmon may still be exiting after podman returned: retry for up to 2 s.
            for (int attempt = 0; entry.is_directory(error) && attempt < 100; ++attempt) {
                if (rmdir(entry.path().c_str()) == 0 || errno != EBUSY) break;
                usleep(20000);
            }
        }
    }
    cgroup_.reset();
    for (const auto& folder : folders) {
        if (rmdir(folder.c_str()) == 0) spdlog::debug("compare: removed cgroup {}", folder.string());
    }
}

std::vector<std::string> image_environment(const image::Image& image) {
    auto env = image.config.env;
    bool has_path = false;
    for (const auto& entry : env) has_path = has_path || entry.starts_with("PATH=");
    if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    return env;
}

namespace {

json default_mounts() {
    return json::array({
        {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
    });
}

json default_capabilities() {
    json capabilities = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
                         "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_MKNOD",
                         "CAP_AUDIT_WRITE", "CAP_SETFCAP"};
    return {{"bounding", capabilities}, {"effective", capabilities}, {"permitted", capabilities}};
}

}  // namespace

std::string oci_config(const std::vector<std::string>& command, const std::vector<std::string>& env,
                       const std::string& cgroups_path, std::uint64_t memory_bytes) {
    json config = {
        {"ociVersion", "1.0.2"},
        {"process",
         {{"terminal", false}, {"user", {{"uid", 0}, {"gid", 0}}}, {"args", command}, {"env", env},
          {"cwd", "/"}, {"capabilities", default_capabilities()}, {"noNewPrivileges", true}}},
        {"root", {{"path", "rootfs"}, {"readonly", false}}},
        {"hostname", "isolab-bench"},
        {"mounts", default_mounts()},
        {"linux",
         {{"namespaces", json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                      {{"type", "mount"}}, {{"type", "network"}}})},
          {"cgroupsPath", cgroups_path},
          {"resources", {{"memory", {{"limit", memory_bytes}}}}},
          {"maskedPaths", {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"}},
          {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
    };
    return config.dump(2);
}

std::vector<std::string> podman_ulimit_arguments() {
    auto hard_limit = [](int resource) {
        rlimit limit{};
        getrlimit(resource, &limit);
        return limit.rlim_max == RLIM_INFINITY ? std::string("-1") : std::to_string(limit.rlim_max);
    };
    auto files = hard_limit(RLIMIT_NOFILE);
    rlimit process_limit{};
    getrlimit(RLIMIT_NPROC, &process_limit);
    auto processes = std::to_string(std::min<rlim_t>(process_limit.rlim_max, 4096));
    return {"--ulimit", "nofile=" + files + ":" + files, "--ulimit", "nproc=" + processes + ":" + processes};
}

std::vector<std::string> hybrid_cgroup_wrapper(const kernel::CgroupHost& host) {
    if (host.version != kernel::CgroupVersion::v1 || host.unified_mount.empty() || host.unified_controllers.empty()) {
        return {};
    }
    // The mount point goes in as "$0", so no path is pasted into the shell text.
    return {"unshare", "--mount", "--propagation", "private", "sh", "-c", "umount \"$0\" && exec \"$@\"",
            host.on_host(host.unified_mount).string()};
}

std::string hybrid_cgroup_note(const std::vector<std::string>& wrapper) {
    if (wrapper.empty()) return {};
    return "hybrid cgroup host: run in a private mount namespace without the cgroup2 mount, so the time includes "
           "unshare, sh and umount";
}

}  // namespace isolab::bench
