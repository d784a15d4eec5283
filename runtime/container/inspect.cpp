#include "runtime/container/inspect.hpp"

#include <cmath>

#include "runtime/container/restart_policy.hpp"
#include "runtime/container/status.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::container {

namespace {

// Docker's zero time, printed for times that never happened.
constexpr const char* zero_time = "0001-01-01T00:00:00Z";

std::string time_or_zero(const std::string& rfc3339) { return rfc3339.empty() ? zero_time : rfc3339; }

nlohmann::json null_if_empty(const std::vector<std::string>& values) {
    return values.empty() ? nlohmann::json(nullptr) : nlohmann::json(values);
}

std::optional<image::Image> find_image(const StoredContainer& container, const image::Store* store) {
    if (store == nullptr) return std::nullopt;
    auto image_id = container.config.image_id.substr(container.config.image_id.find(':') + 1);
    return image_id.empty() ? std::nullopt : store->find(image_id);
}

// Docker's PortBindings: each -p value under its "80/tcp" key, with the host address and
// port as given, empty when not given.
nlohmann::json port_bindings_json(const RunOptions& request) {
    nlohmann::json bindings = nlohmann::json::object();
    for (const auto& text : request.publish) {
        auto mapping = network::parse_port_mapping(text);
        auto& list = bindings[network::port_key(mapping)];
        if (!list.is_array()) list = nlohmann::json::array();
        list.push_back({{"HostIp", mapping.host_ip},
                        {"HostPort", mapping.host_port == 0 ? "" : std::to_string(mapping.host_port)}});
    }
    return bindings;
}

// Splits the stored argv into the image's Entrypoint and the Cmd after it.
std::pair<std::vector<std::string>, std::vector<std::string>> split_command(const StoredContainer& container,
                                                                              const image::Store* store) {
    const auto& command = container.config.command;
    const auto& requested = container.config.request.command;
    auto entrypoint_size = [&]() -> size_t {
        if (!requested.empty() && requested.size() <= command.size()) return command.size() - requested.size();
        auto image = find_image(container, store);
        if (!image || image->config.entrypoint.size() > command.size()) return 0;
        return image->config.entrypoint.size();
    }();
    return {std::vector<std::string>(command.begin(), command.begin() + static_cast<std::ptrdiff_t>(entrypoint_size)),
            std::vector<std::string>(command.begin() + static_cast<std::ptrdiff_t>(entrypoint_size), command.end())};
}

nlohmann::json state_json(const ContainerState& state) {
    nlohmann::json object = {{"Status", state.status},
            {"Running", state.status == "running"},
            {"Paused", false},
            {"Restarting", state.status == "restarting"},
            {"OOMKilled", state.oom_killed},
            {"Dead", false},
            {"Pid", state.status == "running" ? state.pid : 0},
            {"ExitCode", state.exit_code.value_or(0)},
            {"Error", ""},
            {"StartedAt", time_or_zero(state.started_at)},
            {"FinishedAt", time_or_zero(state.finished_at)}};
    // Docker shows Health only for a container with a health check.
    if (state.health) object["Health"] = *state.health;
    return object;
}

nlohmann::json host_config_json(const RunOptions& request) {
    auto policy = parse_restart_policy(request.restart_policy);
    nlohmann::json tmpfs = nlohmann::json::object();
    for (const auto& entry : request.tmpfs) {
        auto colon = entry.find(':');
        tmpfs[entry.substr(0, colon)] = colon == std::string::npos ? "" : entry.substr(colon + 1);
    }
    return {{"Memory", request.memory_limit.value_or(0)},
            {"MemorySwap", request.memory_swap.value_or(0)},
            {"NanoCpus", request.cpus ? static_cast<std::int64_t>(std::llround(*request.cpus * 1e9)) : 0},
            {"CpuShares", request.cpu_shares.value_or(0)},
            {"PidsLimit", request.pids_limit ? nlohmann::json(*request.pids_limit) : nlohmann::json(nullptr)},
            {"Privileged", request.privileged},
            {"ReadonlyRootfs", request.read_only},
            {"CapAdd", null_if_empty(request.cap_add)},
            {"CapDrop", null_if_empty(request.cap_drop)},
            {"SecurityOpt", request.seccomp ? nlohmann::json(nullptr) : nlohmann::json({"seccomp=unconfined"})},
            {"Tmpfs", tmpfs},
            {"Init", request.init},
            {"AutoRemove", request.remove},
            {"NetworkMode", request.network.empty() ? "none" : request.network},
            {"PortBindings", port_bindings_json(request)},
            {"PublishAllPorts", request.publish_all},
            {"RestartPolicy", {{"Name", restart_policy_name(policy)}, {"MaximumRetryCount", policy.maximum_retries}}},
            {"LogConfig", {{"Type", "json-file"}, {"Config", nlohmann::json::object()}}}};
}

}  // namespace

nlohmann::json inspect_container(const StoredContainer& container, const image::Store* store) {
    const auto& config = container.config;
    auto state = observed_state(container);
    auto [entrypoint, cmd] = split_command(container, store);
    auto image = find_image(container, store);
    auto exposed = image ? image->config.exposed_ports : std::vector<std::string>{};
    nlohmann::json object = {
        {"Id", config.id},
        {"Created", config.created},
        {"Path", config.command.empty() ? "" : config.command.front()},
        {"Args", config.command.empty() ? std::vector<std::string>{}
                                        : std::vector<std::string>(config.command.begin() + 1, config.command.end())},
        {"State", state_json(state)},
        {"Image", config.image_id},
        {"LogPath", container.paths.log().string()},
        {"Name", "/" + config.name},
        {"RestartCount", state.restart_count},
        {"Driver", "overlay"},
        {"HostConfig", host_config_json(config.request)},
        {"NetworkSettings", network::network_settings(Paths{container.paths.directory.parent_path().parent_path(), {}},
                                                      config.id, exposed)},
    };
    object["Config"] = {{"Hostname", config.hostname},
                        {"User", config.request.user},
                        {"Env", config.env},
                        {"Cmd", null_if_empty(cmd)},
                        {"Image", config.request.image.empty() ? config.image : config.request.image},
                        {"WorkingDir", config.working_dir},
                        {"Entrypoint", null_if_empty(entrypoint)},
                        {"StopSignal", config.stop_signal.empty() ? nlohmann::json(nullptr) : nlohmann::json(config.stop_signal)}};
    if (config.healthcheck) object["Config"]["Healthcheck"] = *config.healthcheck;
    return object;
}

InspectResult inspect_containers(image::Store& store, const std::vector<std::string>& names_or_ids) {
    InspectResult result;
    for (const auto& name : names_or_ids) {
        auto container = find_container(store.paths(), name);
        if (container) {
            result.containers.push_back(inspect_container(*container, &store));
        } else {
            result.missing.push_back(name);
        }
    }
    return result;
}

}  // namespace isolab::container
