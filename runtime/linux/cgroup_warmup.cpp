#include "runtime/linux/cgroup_warmup.hpp"

#include <unistd.h>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

namespace {

// The cgroup.procs file of the cgroup the calling process is in, in one hierarchy a
// container cgroup is also created in; empty when none is known.
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

CgroupMoveWarmup::CgroupMoveWarmup(const CgroupHost& host) {
    auto procs = own_procs_file(host);
    if (procs.empty()) return;
    thread_ = std::thread([procs = std::move(procs)] {
        try {
            write_cgroup_file(procs, std::to_string(getpid()));
        } catch (const Error& error) {
            spdlog::debug("cgroup: no early move into the own cgroup: {}", error.what());
        }
    });
}

void CgroupMoveWarmup::wait() {
    if (thread_.joinable()) thread_.join();
}

}  // namespace isolab::kernel
