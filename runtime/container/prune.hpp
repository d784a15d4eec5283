#pragma once
// Removing what containers left behind: records of stopped containers, and the mounts
// and cgroups of containers whose isolab process died without cleaning up (SIGKILL,
// power loss). A container whose process is still alive is left alone, and so is the
// cgroup of a container that has no folder under this state root, because it may be a
// running container of another state root.
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"

namespace isolab::container {

struct PruneReport {
    std::vector<std::string> containers;  // ids of removed container records
    std::vector<std::string> mounts;      // mount points unmounted
    std::vector<std::string> cgroups;     // cgroup folders removed
    std::vector<std::string> leases;      // ids of containers whose network address was released
    std::vector<std::string> bridges;     // isolab bridges deleted
    std::vector<std::string> rules;       // iptables rules of deleted bridges
    std::vector<std::string> networks;    // user-defined networks no container used any more
};

// Finds the leftovers without changing anything.
PruneReport find_container_leftovers(const Paths& paths);

// Unmounts, kills the processes of orphaned cgroups, removes them and the records of
// stopped containers, then removes the user-defined networks that no remaining container
// uses, as `docker system prune` does. Returns what it removed. Throws Error only when the state root
// cannot be read; a leftover that cannot be removed is logged and kept.
PruneReport prune_containers(const Paths& paths);

}  // namespace isolab::container
