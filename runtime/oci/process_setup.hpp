#pragma once
// The steps of an OCI container's first process that isolab's own containers do
// differently: joining namespaces given by path, the rlimits, the rootfs (the bundle's
// folder bound on itself, then config.json's mounts in order) and the process's
// security (five capability sets, a numeric user, no_new_privs, the seccomp filter).
// Each runs inside the new namespaces, between clone and exec.
#include <filesystem>
#include <optional>
#include <vector>

#include "runtime/linux/seccomp_profile.hpp"
#include "runtime/oci/spec.hpp"

namespace isolab::oci {

// A mount of config.json with its paths resolved by the parent: a relative bind source
// is relative to the bundle.
struct ResolvedMount {
    OciMount mount;
    std::filesystem::path source;  // absolute for bind mounts, as written otherwise
    bool source_is_file = false;
};

// Enters the namespaces config.json gives by path, except pid, which the parent joins
// before clone. Throws Error naming the path.
void join_namespaces(const std::vector<OciNamespace>& namespaces);

// Sets each rlimit of process.rlimits on this process; exec keeps them.
void apply_rlimits(const std::vector<OciRlimit>& rlimits);

// Binds `rootfs` on itself (pivot_root needs a mount point), performs the mounts in
// order and adds the default devices and /dev links the runtime spec requires. On a
// cgroup v1 host a "cgroup" mount is left out, because the controllers' hierarchies
// cannot be mounted as one filesystem. Throws Error naming the mount.
void build_rootfs(const std::filesystem::path& rootfs, const std::vector<ResolvedMount>& mounts, bool cgroup2_host);

// Limits the bounding set, switches to the user (keeping capabilities across setuid),
// sets the effective, permitted, inheritable and ambient sets, sets no_new_privs and
// loads the seccomp program. Without no_new_privs the filter is loaded before the user
// switch, while the process still has CAP_SYS_ADMIN, as runc does.
void enter_security(const OciProcess& process, const std::optional<kernel::SeccompProgram>& seccomp);

}  // namespace isolab::oci
