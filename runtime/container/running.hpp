#pragma once
// Finding a container that runs now, for the commands that act on its processes
// (exec, top, stats).
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/container/record.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::container {

// True when the process `pid` sits in the cgroup of container `id`, so a pid reused after
// the container ended is never taken for it.
bool process_in_container(pid_t pid, const std::string& id);

// Finds the container by name or id and checks that its first process still runs.
// Throws no_such_container or container_not_running.
StoredContainer find_running_container(const Paths& paths, const std::string& name);

// Every container whose first process still runs, oldest first.
std::vector<StoredContainer> running_containers(const Paths& paths);

}  // namespace isolab::container
