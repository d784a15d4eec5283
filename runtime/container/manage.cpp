#include "runtime/container/manage.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "runtime/container/mounts_plan.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/container/ps_format.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

bool is_running(const StoredContainer& container) { return observed_state(container).status == "running"; }

std::vector<StoredContainer> containers_for_ps(const Paths& paths, bool all) {
    // Like the cgroup, the address of a container whose owner was killed stays until its
    // processes are gone, and `ps` is often the first command to run after that.
    try {
        network::release_stale_leases(paths);
    } catch (const Error& error) {
        spdlog::warn("ps: stale network leases not released: {}", error.one_line());
    }
    std::vector<StoredContainer> selected;
    for (auto& container : list_containers(paths)) {
        if (all || is_active(container)) selected.push_back(std::move(container));
    }
    std::reverse(selected.begin(), selected.end());
    return selected;
}

namespace {

std::string command_text(const std::vector<std::string>& command) {
    std::string text;
    for (const auto& argument : command) text += (text.empty() ? "" : " ") + argument;
    if (text.size() > 20) text = text.substr(0, 19) + "…";
    return "\"" + text + "\"";
}

// Characters on screen: UTF-8 continuation bytes (the "…" of a cut command) take no column.
size_t display_width(const std::string& text) {
    size_t width = 0;
    for (unsigned char c : text) width += (c & 0xC0) != 0x80;
    return width;
}

// "2 minutes ago", as Docker prints the CREATED column.
std::string created_text(const StoredContainer& container, std::chrono::system_clock::time_point now) {
    auto created = parse_rfc3339(container.config.created);
    return created ? human_duration(now - *created) + " ago" : container.config.created;
}


}  // namespace

std::string format_ps(const std::vector<StoredContainer>& containers, bool quiet) {
    std::string table;
    if (quiet) {
        for (const auto& container : containers) table += container.config.id.substr(0, 12) + "\n";
        return table;
    }

    // Columns are as wide as their widest cell plus three spaces.
    using Row = std::array<std::string, 7>;
    std::vector<Row> rows = {{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
    auto now = std::chrono::system_clock::now();
    for (const auto& container : containers) {
        rows.push_back({container.config.id.substr(0, 12), container.config.image, command_text(container.config.command),
                        created_text(container, now), status_text(container, now), ports_text(container),
                        container.config.name});
    }
    std::array<size_t, 7> widths{};
    for (const auto& row : rows) {
        for (size_t column = 0; column < row.size(); ++column) widths[column] = std::max(widths[column], display_width(row[column]));
    }
    for (const auto& row : rows) {
        for (size_t column = 0; column + 1 < row.size(); ++column) {
            table += row[column] + std::string(widths[column] + 3 - display_width(row[column]), ' ');
        }
        table += row.back() + "\n";
    }
    return table;
}

void remove_container(const Paths& paths, const std::string& name_or_id, bool force, bool remove_volumes) {
    auto container = require_container(paths, name_or_id);

    if (is_active(container)) {
        if (!force) {
            throw Error("container " + container.config.name + " is running", "stop it first, or remove it with 'isolab rm -f'",
                        target_error_exit_code);
        }
        kill_for_removal(container);
    }

    // A cgroup stays behind when the container's owner was killed. Its last processes may
    // still be exiting, and rmdir fails with EBUSY until they are gone.
    for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + container.config.id)) {
        for (int attempt = 0; attempt < 50; ++attempt) {
            if (rmdir(directory.c_str()) == 0) {
                spdlog::debug("rm: removed leftover cgroup {}", directory.string());
                break;
            }
            if (errno != EBUSY) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    // Releases the address and veth of a container whose owner was killed.
    network::release_stale_leases(paths);
    std::error_code error;
    fs::remove_all(container.paths.directory, error);
    if (error) throw Error("cannot remove " + container.paths.directory.string() + ": " + error.message());
    spdlog::debug("rm: removed container {} ({})", container.config.name, container.config.id);
    if (remove_volumes) volume::remove_volumes_if_unused(paths, anonymous_volume_names(container.config.mounts));
}

}  // namespace isolab::container
