#include "runtime/oci/process_setup.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/capabilities.hpp"
#include "runtime/linux/mounts.hpp"
#include "runtime/linux/users.hpp"

namespace isolab::oci {

namespace fs = std::filesystem;

namespace {

int namespace_flag(const std::string& type) {
    static const std::map<std::string, int> flags{{"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
                                                  {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP}};
    return flags.at(type);
}

void mount_or_throw(const char* source, const std::string& target, const char* type, unsigned long flags,
                    const std::string& data, const std::string& what) {
    if (mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) throw_errno("mount " + what);
    spdlog::debug("mount: {}", what);
}

// What config.json's mount options mean to mount(2): flags set and cleared, propagation
// changes, and the rest, passed to the filesystem as data.
struct MountOptions {
    unsigned long flags = 0;
    unsigned long propagation = 0;
    bool bind = false;
    std::string data;
};

MountOptions parse_mount_options(const std::vector<std::string>& options) {
    struct Flag {
        bool clear;
        unsigned long value;
    };
    static const std::map<std::string, Flag> flags{
        {"ro", {false, MS_RDONLY}},          {"rw", {true, MS_RDONLY}},           {"nosuid", {false, MS_NOSUID}},
        {"suid", {true, MS_NOSUID}},         {"nodev", {false, MS_NODEV}},        {"dev", {true, MS_NODEV}},
        {"noexec", {false, MS_NOEXEC}},      {"exec", {true, MS_NOEXEC}},         {"sync", {false, MS_SYNCHRONOUS}},
        {"async", {true, MS_SYNCHRONOUS}},   {"dirsync", {false, MS_DIRSYNC}},    {"noatime", {false, MS_NOATIME}},
        {"atime", {true, MS_NOATIME}},       {"nodiratime", {false, MS_NODIRATIME}}, {"diratime", {true, MS_NODIRATIME}},
        {"relatime", {false, MS_RELATIME}},  {"norelatime", {true, MS_RELATIME}}, {"strictatime", {false, MS_STRICTATIME}},
        {"nostrictatime", {true, MS_STRICTATIME}}, {"mand", {false, MS_MANDLOCK}}, {"nomand", {true, MS_MANDLOCK}}};
    static const std::map<std::string, unsigned long> propagation{
        {"private", MS_PRIVATE},          {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
        {"rshared", MS_SHARED | MS_REC},  {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
        {"unbindable", MS_UNBINDABLE},    {"runbindable", MS_UNBINDABLE | MS_REC}};

    MountOptions parsed;
    for (const auto& option : options) {
        if (auto flag = flags.find(option); flag != flags.end()) {
            if (flag->second.clear) {
                parsed.flags &= ~flag->second.value;
            } else {
                parsed.flags |= flag->second.value;
            }
        } else if (auto change = propagation.find(option); change != propagation.end()) {
            parsed.propagation = change->second;
        } else if (option == "bind") {
            parsed.bind = true;
        } else if (option == "rbind") {
            parsed.bind = true;
            parsed.flags |= MS_REC;
        } else if (!option.empty()) {
            parsed.data += (parsed.data.empty() ? "" : ",") + option;
        }
    }
    return parsed;
}

void perform_mount(const fs::path& rootfs, const ResolvedMount& resolved, bool cgroup2_host) {
    const auto& mount = resolved.mount;
    auto options = parse_mount_options(mount.options);
    bool bind = options.bind || mount.type == "bind";
    auto kind = bind && resolved.source_is_file ? kernel::PathKind::file : kernel::PathKind::directory;
    auto what = mount.destination + " (" + (bind ? "bind " + resolved.source.string() : mount.type) + ")";

    if (mount.type == "cgroup" && !cgroup2_host) {
        // NOTE: runc mounts a tmpfs with one bind per v1 controller here; isolab leaves
        // /sys/fs/cgroup as it is on a v1 host.
        spdlog::debug("mount: {} left out on a cgroup v1 host", mount.destination);
        return;
    }
    {
        auto target = kernel::resolve_in_root(rootfs, mount.destination, kind);
        if (bind) {
            unsigned long flags = MS_BIND | (options.flags & MS_REC);
            mount_or_throw(resolved.source.c_str(), target.proc_path(), nullptr, flags, "", what);
        } else {
            const char* type = mount.type == "cgroup" ? "cgroup2" : mount.type.c_str();
            auto source = mount.source.empty() ? std::string(type) : mount.source;
            mount_or_throw(source.c_str(), target.proc_path(), type, options.flags & ~MS_REC, options.data, what);
        }
    }
    // A bind mount takes its flags only from a remount, and the new mount covers what the
    // first descriptor pointed to: resolve the destination again.
    unsigned long remount_flags = options.flags & ~MS_REC;
    if (bind && remount_flags != 0) {
        auto mounted = kernel::resolve_in_root(rootfs, mount.destination, kind);
        mount_or_throw(nullptr, mounted.proc_path(), nullptr, MS_BIND | MS_REMOUNT | remount_flags, "", "remount " + what);
    }
    if (options.propagation != 0) {
        auto mounted = kernel::resolve_in_root(rootfs, mount.destination, kind);
        mount_or_throw(nullptr, mounted.proc_path(), nullptr, options.propagation, "", "propagation of " + what);
    }
}

void set_capability_flag(cap_t state, cap_flag_t flag, const std::vector<cap_value_t>& values) {
    if (values.empty()) return;
    if (cap_set_flag(state, flag, static_cast<int>(values.size()), values.data(), CAP_SET) != 0) throw_errno("cap_set_flag");
}

void set_capability_sets(const OciCapabilities& capabilities) {
    std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)> state(cap_init(), &cap_free);
    if (!state) throw_errno("cap_init");
    set_capability_flag(state.get(), CAP_EFFECTIVE, capabilities.effective);
    set_capability_flag(state.get(), CAP_PERMITTED, capabilities.permitted);
    set_capability_flag(state.get(), CAP_INHERITABLE, capabilities.inheritable);
    if (cap_set_proc(state.get()) != 0) throw_errno("cannot set the capabilities " + kernel::capability_names(capabilities.permitted));
    // As runc, a capability that cannot become ambient (it is not inheritable and
    // permitted) is skipped: `runc spec` lists ambient capabilities without inheritable ones.
    for (auto capability : capabilities.ambient) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0) {
            spdlog::debug("capabilities: {} not raised as ambient: {}", kernel::capability_names({capability}), strerror(errno));
        }
    }
}

}  // namespace

void join_namespaces(const std::vector<OciNamespace>& namespaces) {
    for (const auto& entry : namespaces) {
        if (entry.path.empty() || entry.type == "pid") continue;
        int fd = open(entry.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw_errno("cannot open the " + entry.type + " namespace " + entry.path);
        int result = setns(fd, namespace_flag(entry.type));
        int saved = errno;
        close(fd);
        if (result != 0) throw_errno(saved, "cannot join the " + entry.type + " namespace " + entry.path);
        spdlog::debug("namespace: joined {} {}", entry.type, entry.path);
    }
}

void apply_rlimits(const std::vector<OciRlimit>& rlimits) {
    for (const auto& limit : rlimits) {
        rlimit value{limit.soft, limit.hard};
        if (setrlimit(limit.resource, &value) != 0) throw_errno("cannot set rlimit " + std::to_string(limit.resource));
    }
}

void build_rootfs(const fs::path& rootfs, const std::vector<ResolvedMount>& mounts, bool cgroup2_host) {
    kernel::make_mounts_private();
    mount_or_throw(rootfs.c_str(), rootfs, nullptr, MS_BIND | MS_REC, "", "bind " + rootfs.string() + " on itself");
    for (const auto& mount : mounts) perform_mount(rootfs, mount, cgroup2_host);
    kernel::bind_default_devices(rootfs);
    kernel::link_default_dev_entries(rootfs);
}

void enter_security(const OciProcess& process, const std::optional<kernel::SeccompProgram>& seccomp) {
    OciCapabilities capabilities = process.capabilities.value_or(OciCapabilities{});
    if (seccomp && !process.no_new_privileges) kernel::load_seccomp_program(*seccomp);

    kernel::limit_bounding_set(capabilities.bounding);
    kernel::ContainerUser user{process.user.uid, process.user.gid, process.user.additional_gids, {}};
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) throw_errno("set keep-capabilities");
    kernel::switch_user(user);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) throw_errno("clear keep-capabilities");
    set_capability_sets(capabilities);

    if (process.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("set no_new_privs");
    if (seccomp && process.no_new_privileges) kernel::load_seccomp_program(*seccomp);
}

}  // namespace isolab::oci
