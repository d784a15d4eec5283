#include "runtime/container/manage.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "runtime/container/mounts_plan.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

bool is_running(const StoredContainer& container) {
    if (container.state.status != "running" || container.state.pid <= 0) return false;
    return kill(container.state.pid, 0) == 0 || errno == EPERM;
}

std::vector<StoredContainer> containers_for_ps(const Paths& paths, bool all) {
    std::vector<StoredContainer> selected;
    for (auto& container : list_containers(paths)) {
        if (all || is_running(container)) selected.push_back(std::move(container));
    }
    return selected;
}

std::string status_text(const StoredContainer& container) {
    if (is_running(container)) return "Up";
    if (container.state.exit_code) return fmt::format("Exited ({})", *container.state.exit_code);
    return container.state.status == "running" ? "Dead" : "Created";
}

namespace {

std::string command_text(const std::vector<std::string>& command) {
    std::string text;
    for (const auto& argument : command) text += (text.empty() ? "" : " ") + argument;
    if (text.size() > 20) text = text.substr(0, 19) + "…";
    return "\"" + text + "\"";
}

}  // namespace

std::string format_ps(const std::vector<StoredContainer>& containers, bool quiet) {
    std::string table;
    if (!quiet) {
        table += fmt::format("{:<14}{:<18}{:<24}{:<32}{:<14}{}\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES");
    }
    for (const auto& container : containers) {
        auto short_id = container.config.id.substr(0, 12);
        if (quiet) {
            table += short_id + "\n";
            continue;
        }
        table += fmt::format("{:<14}{:<18}{:<24}{:<32}{:<14}{}\n", short_id, container.config.image,
                             command_text(container.config.command), container.config.created, status_text(container),
                             container.config.name);
    }
    return table;
}

void remove_container(const Paths& paths, const std::string& name_or_id, bool force, bool remove_volumes) {
    auto container = find_container(paths, name_or_id);
    if (!container) throw Error("no such container: " + name_or_id, "list them with 'isolab ps -a'");

    if (is_running(*container)) {
        if (!force) {
            throw Error("container " + container->config.name + " is running", "stop it first, or remove it with 'isolab rm -f'");
        }
        // SIGKILL to the first process ends the whole PID namespace; the isolab process
        // that runs the container then removes its cgroup.
        kill(container->state.pid, SIGKILL);
        for (int attempt = 0; attempt < 500 && is_running(*container); ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + container->config.id)) {
        if (rmdir(directory.c_str()) == 0) spdlog::debug("rm: removed leftover cgroup {}", directory.string());
    }
    std::error_code error;
    fs::remove_all(container->paths.directory, error);
    if (error) throw Error("cannot remove " + container->paths.directory.string() + ": " + error.message());
    spdlog::debug("rm: removed container {} ({})", container->config.name, container->config.id);
    if (remove_volumes) volume::remove_volumes_if_unused(paths, anonymous_volume_names(container->config.mounts));
}

}  // namespace isolab::container
