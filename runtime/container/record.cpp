#include "runtime/container/record.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

void to_json(nlohmann::json& json, const ContainerConfig& config) {
    json = {{"id", config.id},
            {"name", config.name},
            {"image", config.image},
            {"image_id", config.image_id},
            {"command", config.command},
            {"env", config.env},
            {"working_dir", config.working_dir},
            {"user", config.user},
            {"hostname", config.hostname},
            {"created", config.created}};
    json["memory_limit"] = config.memory_limit ? nlohmann::json(*config.memory_limit) : nlohmann::json(nullptr);
    json["request"] = config.request;
    json["mounts"] = config.mounts;
    json["stop_signal"] = config.stop_signal;
    if (config.healthcheck) json["healthcheck"] = *config.healthcheck;
    json["shell"] = config.shell;
}

void from_json(const nlohmann::json& json, ContainerConfig& config) {
    config.id = json.at("id").get<std::string>();
    config.name = json.value("name", "");
    config.image = json.value("image", "");
    config.image_id = json.value("image_id", "");
    config.command = json.value("command", std::vector<std::string>{});
    config.env = json.value("env", std::vector<std::string>{});
    config.working_dir = json.value("working_dir", "");
    config.user = json.value("user", "");
    config.hostname = json.value("hostname", "");
    config.created = json.value("created", "");
    if (json.contains("memory_limit") && json["memory_limit"].is_number()) {
        config.memory_limit = json["memory_limit"].get<std::uint64_t>();
    }
    if (json.contains("request")) config.request = json["request"].get<RunOptions>();
    config.mounts = json.value("mounts", std::vector<ContainerMount>{});
    config.stop_signal = json.value("stop_signal", "");
    if (json.contains("healthcheck")) config.healthcheck = json["healthcheck"].get<image::Healthcheck>();
    config.shell = json.value("shell", std::vector<std::string>{});
}

void to_json(nlohmann::json& json, const ContainerState& state) {
    json = {{"status", state.status}, {"pid", state.pid}, {"started_at", state.started_at}, {"finished_at", state.finished_at}};
    json["exit_code"] = state.exit_code ? nlohmann::json(*state.exit_code) : nlohmann::json(nullptr);
    json["pid_start_ticks"] = state.pid_start_ticks;
    json["monitor_pid"] = state.monitor_pid;
    json["monitor_start_ticks"] = state.monitor_start_ticks;
    json["restart_count"] = state.restart_count;
    json["oom_killed"] = state.oom_killed;
    json["manually_stopped"] = state.manually_stopped;
    if (state.health) json["health"] = *state.health;
}

void from_json(const nlohmann::json& json, ContainerState& state) {
    state.status = json.value("status", "created");
    state.pid = json.value("pid", 0);
    state.started_at = json.value("started_at", "");
    state.finished_at = json.value("finished_at", "");
    if (json.contains("exit_code") && json["exit_code"].is_number()) state.exit_code = json["exit_code"].get<int>();
    state.pid_start_ticks = json.value("pid_start_ticks", std::uint64_t{0});
    state.monitor_pid = json.value("monitor_pid", 0);
    state.monitor_start_ticks = json.value("monitor_start_ticks", std::uint64_t{0});
    state.restart_count = json.value("restart_count", 0);
    state.oom_killed = json.value("oom_killed", false);
    state.manually_stopped = json.value("manually_stopped", false);
    if (json.contains("health")) state.health = json["health"].get<Health>();
}

std::string rfc3339_now() {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                       utc.tm_hour, utc.tm_min, utc.tm_sec, nanoseconds);
}

ContainerPaths container_paths(const Paths& paths, const std::string& id) { return {paths.containers() / id}; }

namespace {

std::optional<StoredContainer> load_container(const fs::path& directory) {
    ContainerPaths paths{directory};
    try {
        StoredContainer container;
        container.paths = paths;
        container.config = nlohmann::json::parse(read_file(paths.config())).get<ContainerConfig>();
        std::error_code error;
        if (fs::exists(paths.state(), error)) {
            try {
                container.state = nlohmann::json::parse(read_file(paths.state())).get<ContainerState>();
            } catch (const std::exception& state_error) {
                // A --rm container's state.json is written without fsync and may be empty
                // after a host crash. Its record reads as created, so `rm` and `system
                // prune` find it.
                if (!container.config.request.remove) throw;
                spdlog::debug("{}: unreadable state of a --rm container, read as created: {}", directory.string(),
                              state_error.what());
            }
        }
        return container;
    } catch (const std::exception& error) {
        // A folder without config.json is a container being created right now.
        std::error_code missing;
        if (fs::exists(paths.config(), missing)) {
            spdlog::warn("container {} is damaged and skipped: {} (`isolab system prune` removes it)",
                         directory.filename().string().substr(0, 12), error.what());
        } else {
            spdlog::debug("skipping {}: {}", directory.string(), error.what());
        }
        return std::nullopt;
    }
}

}  // namespace

ContainerRecord::ContainerRecord(const Paths& paths, ContainerConfig config)
    : config_(std::move(config)), paths_(container_paths(paths, config_.id)) {
    fs::create_directories(paths.containers());
    FileLock lock(paths.containers() / ".lock");
    for (const auto& existing : list_containers(paths)) {
        if (existing.config.name == config_.name) {
            throw Error("the container name '" + config_.name + "' is already in use by container " +
                            existing.config.id.substr(0, 12),
                        "remove that container (isolab rm " + config_.name + ") or choose another --name");
        }
    }

    if (mkdir(paths_.directory.c_str(), 0700) != 0) throw_errno("cannot create " + paths_.directory.string());
    try {
        for (const auto& directory : {paths_.upperdir(), paths_.workdir(), paths_.rootfs()}) fs::create_directory(directory);
        write_file_atomic(paths_.config(), nlohmann::json(config_).dump(2) + "\n");
        save_state();
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(paths_.directory, ignored);
        throw;
    }
    spdlog::debug("container: created {} ({}) in {}", config_.name, config_.id, paths_.directory.string());
}

ContainerRecord::~ContainerRecord() {
    if (kept_) return;
    std::error_code error;
    fs::remove_all(paths_.directory, error);
    if (error) {
        spdlog::warn("cannot remove {}: {}", paths_.directory.string(), error.message());
    } else {
        spdlog::debug("container: removed {}", paths_.directory.string());
    }
}

// The state of a --rm container is written without fsync: its folder is removed when the
// container exits, and after a host crash load_container reads a lost state.json as a
// created container, which `rm` and `system prune` remove. config.json stays crash-safe.
void ContainerRecord::save_state() {
    auto durability = config_.request.remove ? Durability::rename_only : Durability::crash_safe;
    write_file_atomic(paths_.state(), nlohmann::json(state_).dump(2) + "\n", 0644, durability);
}

std::vector<StoredContainer> list_containers(const Paths& paths) {
    std::vector<StoredContainer> containers;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(paths.containers(), error)) {
        if (!entry.is_directory()) continue;
        if (auto container = load_container(entry.path())) containers.push_back(std::move(*container));
    }
    std::sort(containers.begin(), containers.end(),
              [](const auto& a, const auto& b) { return a.config.created < b.config.created; });
    return containers;
}

std::optional<StoredContainer> find_container(const Paths& paths, const std::string& name_or_id) {
    std::optional<StoredContainer> match;
    for (auto& container : list_containers(paths)) {
        if (container.config.name == name_or_id || container.config.id == name_or_id) return container;
        if (name_or_id.empty() || container.config.id.rfind(name_or_id, 0) != 0) continue;
        if (match) throw Error("container id prefix '" + name_or_id + "' is ambiguous", "give more digits of the id");
        match = std::move(container);
    }
    return match;
}

}  // namespace isolab::container
