#include "runtime/container/prune.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/networks.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

// Ids of containers that run or wait to restart: their resources are in use.
std::set<std::string> live_container_ids(const Paths& paths) {
    std::set<std::string> live;
    for (const auto& stored : list_containers(paths)) {
        if (is_active(stored)) live.insert(stored.config.id);
    }
    return live;
}

bool belongs_to(const std::string& path, const std::set<std::string>& ids) {
    return std::any_of(ids.begin(), ids.end(), [&](const std::string& id) {
        return path.find(id) != std::string::npos;
    });
}

// Mount points below the state root, deepest first so children go before parents.
std::vector<std::string> mounts_below(const fs::path& root) {
    std::istringstream mountinfo(read_file("/proc/self/mountinfo"));
    std::vector<std::string> found;
    std::string line;
    std::string prefix = root.string() + "/";
    while (std::getline(mountinfo, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root_field, mount_point;
        fields >> id >> parent >> device >> root_field >> mount_point;
        std::string decoded = kernel::unescape_mount_path(mount_point);
        if (decoded.rfind(prefix, 0) == 0) found.push_back(decoded);
    }
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return found;
}

// True for the cgroup of a container (isolab-<64 hex digits>) that has no folder under this
// state root: it belongs to another state root, where it may still run.
bool belongs_to_other_root(const Paths& paths, const fs::path& cgroup) {
    static const std::regex container_cgroup("isolab-([0-9a-f]{64})");
    std::smatch match;
    auto name = cgroup.filename().string();
    if (!std::regex_match(name, match, container_cgroup)) return false;
    std::error_code error;
    return !fs::exists(container_paths(paths, match[1].str()).directory, error);
}

// The pids in a cgroup, none when it vanished since it was listed.
std::vector<pid_t> cgroup_members(const fs::path& directory) {
    std::vector<pid_t> members;
    try {
        std::istringstream procs(read_file(directory / "cgroup.procs"));
        for (pid_t pid; procs >> pid;) members.push_back(pid);
    } catch (const Error& error) {
        spdlog::debug("prune: {}", error.what());
    }
    return members;
}

// Ids of container folders whose config.json exists but cannot be read: a torn or
// damaged record that list_containers skips. A folder without config.json is left
// alone, because `run` in another process may be creating it.
std::vector<std::string> damaged_container_ids(const Paths& paths, const std::vector<StoredContainer>& loaded) {
    static const std::regex container_id("[0-9a-f]{64}");
    std::set<std::string> readable;
    for (const auto& stored : loaded) readable.insert(stored.config.id);
    std::vector<std::string> damaged;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(paths.containers(), error)) {
        auto id = entry.path().filename().string();
        if (!std::regex_match(id, container_id) || readable.count(id)) continue;
        std::error_code missing;
        if (fs::exists(container_paths(paths, id).config(), missing)) damaged.push_back(id);
    }
    return damaged;
}

}  // namespace

PruneReport find_container_leftovers(const Paths& paths) {
    PruneReport report;
    auto live = live_container_ids(paths);

    auto loaded = list_containers(paths);
    for (const auto& stored : loaded) {
        if (!live.count(stored.config.id)) report.containers.push_back(stored.config.id);
    }
    for (const auto& id : damaged_container_ids(paths, loaded)) report.containers.push_back(id);
    for (const auto& mount_point : mounts_below(fs::canonical(paths.root))) {
        if (!belongs_to(mount_point, live)) report.mounts.push_back(mount_point);
    }
    try {
        auto host = kernel::detect_cgroups();
        for (const auto& directory : kernel::find_isolab_cgroups(host)) {
            if (belongs_to(directory.string(), live) || belongs_to_other_root(paths, directory)) continue;
            report.cgroups.push_back(directory.string());
        }
    } catch (const Error& error) {
        spdlog::warn("prune: cgroups not checked: {}", error.what());
    }
    return report;
}

PruneReport prune_containers(const Paths& paths) {
    if (!fs::exists(paths.root)) return {};
    FileLock lock(paths.root / ".prune.lock");
    PruneReport found = find_container_leftovers(paths);
    PruneReport removed;

    for (const auto& mount_point : found.mounts) {
        if (umount2(mount_point.c_str(), MNT_DETACH) == 0) {
            removed.mounts.push_back(mount_point);
        } else {
            spdlog::warn("prune: cannot unmount {}: {}", mount_point, std::strerror(errno));
        }
    }

    for (const auto& directory : found.cgroups) {
        // Processes of a container whose isolab died keep running: end them first.
        for (pid_t pid : cgroup_members(directory)) kill(pid, SIGKILL);
        bool gone = false;
        for (int attempt = 0; attempt < 50 && !gone; ++attempt) {
            gone = rmdir(directory.c_str()) == 0 || errno == ENOENT;
            if (!gone) usleep(20000);
        }
        if (gone) {
            removed.cgroups.push_back(directory);
        } else {
            spdlog::warn("prune: cannot remove cgroup {}: {}", directory, std::strerror(errno));
        }
    }

    // After the cgroups, whose processes kept their addresses in use.
    try {
        auto network = network::prune_network_leftovers(paths);
        removed.leases = std::move(network.leases);
        removed.bridges = std::move(network.bridges);
        removed.rules = std::move(network.rules);
    } catch (const Error& error) {
        spdlog::warn("prune: networks not checked: {}", error.one_line());
    }

    for (const auto& id : found.containers) {
        std::error_code error;
        fs::remove_all(container_paths(paths, id).directory, error);
        if (error) {
            spdlog::warn("prune: cannot remove container {}: {}", id, error.message());
        } else {
            removed.containers.push_back(id);
        }
    }

    // After the records, so a network only stopped containers named is unused now.
    try {
        removed.networks = network::prune_networks(paths);
    } catch (const Error& error) {
        spdlog::warn("prune: user-defined networks not checked: {}", error.one_line());
    }
    return removed;
}

}  // namespace isolab::container
