#include "runtime/container/running.hpp"

#include <fstream>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {

namespace {

bool is_running(const StoredContainer& container) {
    return container.state.status == "running" && container.state.pid > 0 &&
           process_in_container(container.state.pid, container.config.id);
}

}  // namespace

bool process_in_container(pid_t pid, const std::string& id) {
    std::ifstream cgroups("/proc/" + std::to_string(pid) + "/cgroup");
    std::string line;
    while (std::getline(cgroups, line)) {
        if (line.find("/isolab-" + id) != std::string::npos) return true;
    }
    return false;
}

StoredContainer find_running_container(const Paths& paths, const std::string& name) {
    auto container = require_container(paths, name);
    if (!is_running(container)) throw container_not_running(name);
    return container;
}

std::vector<StoredContainer> running_containers(const Paths& paths) {
    std::vector<StoredContainer> running;
    for (auto& container : list_containers(paths)) {
        if (is_running(container)) running.push_back(std::move(container));
    }
    return running;
}

}  // namespace isolab::container
