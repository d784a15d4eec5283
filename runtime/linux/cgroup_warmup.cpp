#include "runtime/linux/cgroup_warmup.hpp"

#include <unistd.h>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

namespace {

// The cgroup.procs file of the calling process's own cgroup, in the first hierarchy that
// container cgroups are created in. Empty when no such hierarchy is known.
fs::path own_procs_file(const CgroupHost& host) {
    auto procs_in = [&](const fs::path& mount_point, const std::string& controller) -> fs::path {
        auto self = host.self_paths.find(controller);
        if (self == host.self_paths.end()) return {};
        return host.on_host(mount_point) / fs::path(self->second).relative_path() / "cgroup.procs";
    };
    if (host.version == CgroupVersion::v2) return procs_in(host.unified_mount, "");
    for (const auto& controller : v1_container_controllers()) {
        auto hierarchy = host.v1_hierarchies.find(controller);
        if (hierarchy != host.v1_hierarchies.end()) return procs_in(hierarchy->second, controller);
    }
    return {};
}

}  // namespace

CgroupMoveWarmup::CgroupMoveWarmup(const CgroupHost& host) : procs_(own_procs_file(host)) {
    if (procs_.empty()) return;
    thread_ = std::thread([this] { moved_ = move_into_own_cgroup(); });
}

bool CgroupMoveWarmup::move_into_own_cgroup() const {
    try {
        write_cgroup_file(procs_, std::to_string(getpid()));
        return true;
    } catch (const Error& error) {
        spdlog::debug("cgroup: early move into the own cgroup failed: {}", error.what());
        return false;
    }
}

void CgroupMoveWarmup::wait() {
    if (!thread_.joinable()) return;
    thread_.join();
    // The first move may have ended more than a grace period ago on a busy host. A second
    // one takes microseconds while the last grace period's state is kept, and keeps it for
    // the next grace period, in which the container's process is moved.
    if (moved_) move_into_own_cgroup();
}

}  // namespace isolab::kernel
