#include "runtime/container/run_options.hpp"

namespace isolab::container {

namespace {

template <typename T>
nlohmann::json optional_to_json(const std::optional<T>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

template <typename T>
void optional_from_json(const nlohmann::json& json, const char* key, std::optional<T>& value) {
    if (json.contains(key) && !json[key].is_null()) value = json[key].get<T>();
}

}  // namespace

void to_json(nlohmann::json& json, const RunOptions& options) {
    json = {{"image", options.image},
            {"command", options.command},
            {"name", options.name},
            {"remove", options.remove},
            {"memory_limit", optional_to_json(options.memory_limit)},
            {"env", options.env},
            {"hostname", optional_to_json(options.hostname)},
            {"init", options.init},
            {"dies_with_owner", options.dies_with_owner},
            {"read_only", options.read_only},
            {"tmpfs", options.tmpfs},
            {"devices", options.devices},
            {"user", options.user},
            {"working_dir", options.working_dir},
            {"cap_add", options.cap_add},
            {"cap_drop", options.cap_drop},
            {"privileged", options.privileged},
            {"seccomp", options.seccomp},
            {"seccomp_profile", options.seccomp_profile},
            {"pids_limit", optional_to_json(options.pids_limit)},
            {"cpus", optional_to_json(options.cpus)},
            {"cpu_shares", optional_to_json(options.cpu_shares)},
            {"memory_swap", optional_to_json(options.memory_swap)},
            {"entrypoint", optional_to_json(options.entrypoint)},
            {"network", options.network},
            {"network_aliases", options.network_aliases},
            {"pid_mode", options.pid_mode},
            {"ipc_mode", options.ipc_mode},
            {"interactive", options.interactive},
            {"tty", options.tty},
            {"volumes", options.volumes},
            {"mounts", options.mounts},
            {"restart_policy", options.restart_policy},
            {"labels", options.labels},
            {"healthcheck", optional_to_json(options.healthcheck)},
            {"publish", options.publish},
            {"publish_all", options.publish_all}};
}

void from_json(const nlohmann::json& json, RunOptions& options) {
    RunOptions defaults;
    options.image = json.value("image", defaults.image);
    options.command = json.value("command", defaults.command);
    options.name = json.value("name", defaults.name);
    options.remove = json.value("remove", defaults.remove);
    optional_from_json(json, "memory_limit", options.memory_limit);
    options.env = json.value("env", defaults.env);
    optional_from_json(json, "hostname", options.hostname);
    options.init = json.value("init", defaults.init);
    options.dies_with_owner = json.value("dies_with_owner", defaults.dies_with_owner);
    options.read_only = json.value("read_only", defaults.read_only);
    options.tmpfs = json.value("tmpfs", defaults.tmpfs);
    options.devices = json.value("devices", defaults.devices);
    options.user = json.value("user", defaults.user);
    options.working_dir = json.value("working_dir", defaults.working_dir);
    options.cap_add = json.value("cap_add", defaults.cap_add);
    options.cap_drop = json.value("cap_drop", defaults.cap_drop);
    options.privileged = json.value("privileged", defaults.privileged);
    options.seccomp = json.value("seccomp", defaults.seccomp);
    options.seccomp_profile = json.value("seccomp_profile", defaults.seccomp_profile);
    optional_from_json(json, "pids_limit", options.pids_limit);
    optional_from_json(json, "cpus", options.cpus);
    optional_from_json(json, "cpu_shares", options.cpu_shares);
    optional_from_json(json, "memory_swap", options.memory_swap);
    optional_from_json(json, "entrypoint", options.entrypoint);
    options.network = json.value("network", defaults.network);
    options.network_aliases = json.value("network_aliases", defaults.network_aliases);
    options.pid_mode = json.value("pid_mode", defaults.pid_mode);
    options.ipc_mode = json.value("ipc_mode", defaults.ipc_mode);
    options.interactive = json.value("interactive", defaults.interactive);
    options.tty = json.value("tty", defaults.tty);
    options.volumes = json.value("volumes", defaults.volumes);
    options.mounts = json.value("mounts", defaults.mounts);
    options.restart_policy = json.value("restart_policy", defaults.restart_policy);
    options.labels = json.value("labels", defaults.labels);
    optional_from_json(json, "healthcheck", options.healthcheck);
    options.publish = json.value("publish", defaults.publish);
    options.publish_all = json.value("publish_all", defaults.publish_all);
}

}  // namespace isolab::container
