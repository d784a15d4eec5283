#include "runtime/compose/orchestrate.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/build/builder.hpp"
#include "runtime/container/health.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/manage.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/fault.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/networks.hpp"
#include "runtime/network/ports.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::compose {

namespace fs = std::filesystem;

namespace {

// The --mount value of `bind`: each field in double quotes (a quote doubled), as the
// option's CSV syntax allows, so ',' and ':' in the path stay part of it.
std::string mount_option(const ColonBind& bind) {
    auto quoted = [](const std::string& field) {
        std::string text = "\"";
        for (char c : field) text += c == '"' ? std::string("\"\"") : std::string(1, c);
        return text + "\"";
    };
    std::string value = "type=bind," + quoted("source=" + bind.source) + "," + quoted("target=" + bind.target);
    if (bind.read_only) value += ",readonly";
    return value;
}

std::string container_name(const std::string& project, const std::string& service, int number = 1) {
    return project + "-" + service + "-" + std::to_string(number);
}

std::string label_of(const container::StoredContainer& container, const char* key) {
    auto found = container.config.request.labels.find(key);
    return found == container.config.request.labels.end() ? "" : found->second;
}

// Copies the output of one container to stdout with "SERVICE-1  | " before each line, as
// docker compose prefixes it. print_logs writes into a pipe, and this side reads it.
class PrefixedLogs {
public:
    PrefixedLogs(const Paths& paths, std::string id, std::string prefix, bool follow, std::mutex& output_lock) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for compose logs");
        writer_ = std::thread([&paths, id = std::move(id), follow, write_fd = fds[1]] {
            try {
                container::LogsOptions options;
                options.follow = follow;
                container::print_logs(paths, id, options, write_fd, write_fd);
            } catch (const std::exception&) {
                // The container was removed while its log was read: nothing more to print.
            }
            close(write_fd);
        });
        reader_ = std::thread([prefix = std::move(prefix), read_fd = fds[0], &output_lock] {
            std::string pending;
            char buffer[4096];
            ssize_t count = 0;
            while ((count = read(read_fd, buffer, sizeof buffer)) > 0) {
                pending.append(buffer, static_cast<size_t>(count));
                size_t newline = 0;
                while ((newline = pending.find('\n')) != std::string::npos) {
                    std::lock_guard lock(output_lock);
                    std::printf("%s | %s\n", prefix.c_str(), pending.substr(0, newline).c_str());
                    std::fflush(stdout);
                    pending.erase(0, newline + 1);
                }
            }
            if (!pending.empty()) {
                std::lock_guard lock(output_lock);
                std::printf("%s | %s\n", prefix.c_str(), pending.c_str());
            }
            close(read_fd);
        });
    }
    ~PrefixedLogs() {
        if (writer_.joinable()) writer_.join();
        if (reader_.joinable()) reader_.join();
    }
    PrefixedLogs(const PrefixedLogs&) = delete;
    PrefixedLogs& operator=(const PrefixedLogs&) = delete;

private:
    std::thread writer_;
    std::thread reader_;
};

// Prints the logs of `containers` with service prefixes, padded to one width.
void print_prefixed_logs(const Paths& paths, const std::vector<container::StoredContainer>& containers, bool follow) {
    size_t width = 0;
    for (const auto& container : containers) width = std::max(width, container.config.name.size());
    std::mutex output_lock;
    std::vector<std::unique_ptr<PrefixedLogs>> readers;
    for (const auto& container : containers) {
        auto prefix = container.config.name;
        prefix.resize(width, ' ');
        readers.push_back(std::make_unique<PrefixedLogs>(paths, container.config.id, prefix, follow, output_lock));
    }
    readers.clear();  // joins every thread
}

// What one `up` created, removed again unless keep() was called: an `up` that fails
// before its first container started leaves no network or volume behind.
class CreatedResources {
public:
    explicit CreatedResources(const Paths& paths) : paths_(paths) {}
    ~CreatedResources() {
        if (kept_) return;
        for (auto name = networks_.rbegin(); name != networks_.rend(); ++name) {
            try {
                network::remove_network(paths_, *name);
                std::fprintf(stderr, "Network %s  Removed\n", name->c_str());
            } catch (const std::exception& error) {
                spdlog::warn("cannot remove network {} after the failed up: {}", *name, error.what());
            }
        }
        for (const auto& name : volumes_) {
            try {
                volume::remove_volume(paths_, name, false);
                std::fprintf(stderr, "Volume %s  Removed\n", name.c_str());
            } catch (const std::exception& error) {
                spdlog::warn("cannot remove volume {} after the failed up: {}", name, error.what());
            }
        }
    }
    CreatedResources(const CreatedResources&) = delete;
    CreatedResources& operator=(const CreatedResources&) = delete;

    void add_network(const std::string& name) { networks_.push_back(name); }
    void add_volume(const std::string& name) { volumes_.push_back(name); }
    void keep() { kept_ = true; }

private:
    const Paths& paths_;
    std::vector<std::string> networks_;
    std::vector<std::string> volumes_;
    bool kept_ = false;
};

void ensure_volumes(const Paths& paths, const Project& project, CreatedResources& created) {
    for (const auto& volume : project.volumes) {
        auto name = project.name + "_" + volume;
        if (!volume::find_volume(paths, name)) {
            volume::create_volume(paths, name, {{project_label, project.name}, {"com.docker.compose.volume", volume}});
            created.add_volume(name);
            std::fprintf(stderr, "Volume %s  Created\n", name.c_str());
        }
    }
}

const NetworkSpec& network_spec(const Project& project, const std::string& key) {
    for (const auto& network : project.networks) {
        if (network.key == key) return network;
    }
    throw Error("network " + key + " is not declared in project " + project.name, "declare it under networks:", 1);
}

// The aliases of a service on one of its networks: the service's name first, as docker
// compose gives it.
std::vector<std::string> aliases_on(const Service& service, const ServiceNetwork& network) {
    std::vector<std::string> aliases = {service.name};
    for (const auto& alias : network.aliases) {
        if (std::find(aliases.begin(), aliases.end(), alias) == aliases.end()) aliases.push_back(alias);
    }
    return aliases;
}

std::set<std::string> used_network_keys(const Project& project) {
    std::set<std::string> used;
    for (const auto& service : project.services) {
        for (const auto& network : service.networks) used.insert(network.key);
    }
    return used;
}

// True when `record` was created by `project` for `spec`; throws Error when a network of
// that name belongs to something else.
bool project_network_exists(const std::optional<network::NetworkRecord>& record, const Project& project, const NetworkSpec& spec) {
    if (!record) return false;
    auto owner = record->labels.find(project_label);
    if (owner == record->labels.end() || owner->second != project.name) {
        throw Error("network " + spec.name + " exists but was not created by project " + project.name,
                    "give networks." + spec.key + " another name: in the compose file, or declare it external: true to use it", 1);
    }
    return true;
}

std::optional<network::NetworkRecord> find_network(const Paths& paths, const std::string& name) {
    for (auto& record : network::list_networks(paths)) {
        if (record.name == name) return record;
    }
    return std::nullopt;
}

// Checks, before anything is created, that each external network the services use
// exists and that no other network has the name of one of the project's.
void check_networks(const Paths& paths, const Project& project) {
    auto used = used_network_keys(project);
    for (const auto& spec : project.networks) {
        if (!used.count(spec.key)) continue;
        auto found = find_network(paths, spec.name);
        if (spec.external) {
            if (!found || !found->user_defined) {
                throw Error("external network " + spec.name + " not found",
                            "create it with 'isolab network create " + spec.name + "'", 1);
            }
            continue;
        }
        project_network_exists(found, project, spec);
    }
}

// Creates the networks the services use, unless they exist. A network that exists with
// this project's labels is used as it is, as docker compose does, also when another `up`
// created it a moment ago.
void ensure_networks(const Paths& paths, const Project& project, CreatedResources& created) {
    auto used = used_network_keys(project);
    for (const auto& spec : project.networks) {
        if (!used.count(spec.key) || spec.external) continue;
        if (project_network_exists(find_network(paths, spec.name), project, spec)) continue;
        auto labels = spec.labels;
        labels[project_label] = project.name;
        labels[network_label] = spec.key;
        try {
            network::create_network(paths, spec.name, spec.subnet, labels);
        } catch (const Error& error) {
            if (project_network_exists(find_network(paths, spec.name), project, spec)) continue;
            throw Error("network " + spec.key + " of project " + project.name + ": " + error.what(), error.hint(), 1);
        }
        created.add_network(spec.name);
        std::fprintf(stderr, "Network %s  Created\n", spec.name.c_str());
        fault_point("compose.network");
    }
}

// Connects a new container to the service's networks after the first, as `network
// connect` does. The container's folder records them, so every later start, by `compose
// start`, `compose restart` or the restart policy, connects them again.
void connect_other_networks(const Paths& paths, const Project& project, const Service& service, const std::string& container) {
    for (size_t i = 1; i < service.networks.size(); ++i) {
        const auto& network = service.networks[i];
        network::connect_container(paths, network_spec(project, network.key).name, container, aliases_on(service, network));
    }
}

int replicas_of(const Service& service, const UpOptions& options) {
    auto found = options.scale.find(service.name);
    return found == options.scale.end() ? service.replicas : found->second;
}

// Rejects a scale that makes replicas bind one host port, before anything starts.
void check_scale(const Project& project, const UpOptions& options) {
    for (const auto& [name, replicas] : options.scale) {
        bool known = std::any_of(project.services.begin(), project.services.end(),
                                 [&](const Service& service) { return service.name == name; });
        if (!known) throw Error("--scale " + name + "=" + std::to_string(replicas) + ": no such service", "check the service name", 1);
    }
    for (const auto& service : project.services) {
        int replicas = replicas_of(service, options);
        if (replicas < 2) continue;
        for (const auto& port : service.ports) {
            auto mapping = network::parse_port_mapping(port);
            if (mapping.host_port == 0) continue;
            throw Error("service " + service.name + " cannot run " + std::to_string(replicas) +
                            " replicas: each would publish host port " + std::to_string(mapping.host_port) + "/" +
                            mapping.protocol,
                        "publish only the container port (ports: [\"" + std::to_string(mapping.container_port) +
                            "\"]) so each replica gets a free host port, or run 1 replica",
                        1);
        }
    }
}

int container_number(const container::StoredContainer& container) {
    try {
        return std::stoi(label_of(container, number_label));
    } catch (const std::exception&) {
        return 1;
    }
}

// Stops and removes a container. Its connections by `network connect` are undone first,
// because their leases stay until the container's owner process has ended, which may be
// after `stop` returns, and a network with a lease cannot be removed.
void remove_project_container(const Paths& paths, const container::StoredContainer& container,
                              const char* verb = "Removed") {
    const auto& id = container.config.id;
    for (const auto& network : network::list_networks(paths)) {
        auto lease = network.leases.find(id);
        if (lease != network.leases.end() && lease->second.kind == network::LeaseKind::connected) {
            network::disconnect_container(paths, network.name, id);
        }
    }
    container::stop_container(paths, container.config.id, 10);
    container::remove_container(paths, container.config.id, true);
    std::fprintf(stderr, "Container %s  %s\n", container.config.name.c_str(), verb);
}

// Polling period of a wait for a dependency's health.
constexpr auto health_poll = std::chrono::milliseconds(50);

// Waits until the dependency's container reports healthy, as docker compose does for
// service_healthy. Throws Error naming both services when it has no health check, becomes
// unhealthy, or exits first.
void wait_until_healthy(const Paths& paths, const std::string& name, const Service& service, const Dependency& dependency) {
    auto failure = [&](const std::string& what) {
        return Error("dependency failed to start: service " + dependency.service + " " + what + ", so " + service.name +
                         " (depends_on: service_healthy) was not started",
                     "see isolab compose logs " + dependency.service + " and isolab inspect " + name, 1);
    };
    std::fprintf(stderr, "Container %s  Waiting\n", name.c_str());
    while (true) {
        auto container = container::find_container(paths, name);
        if (!container) throw failure("has no container");
        if (!container::healthcheck_enabled(container->config.healthcheck)) throw failure("has no healthcheck");
        auto state = container::observed_state(*container);
        if (state.status == "exited") {
            throw failure("exited with code " + std::to_string(state.exit_code.value_or(0)) + " before it became healthy");
        }
        if (state.status == "running" && state.health) {
            if (state.health->status == "healthy") {
                std::fprintf(stderr, "Container %s  Healthy\n", name.c_str());
                return;
            }
            if (state.health->status == "unhealthy") throw failure("is unhealthy");
        }
        std::this_thread::sleep_for(health_poll);
    }
}

void wait_for_dependencies(const Paths& paths, const Project& project, const Service& service) {
    for (const auto& dependency : service.depends_on) {
        auto name = container_name(project.name, dependency.service);
        if (dependency.condition == "service_healthy") {
            wait_until_healthy(paths, name, service, dependency);
            continue;
        }
        if (dependency.condition != "service_completed_successfully") continue;
        int exit_code = container::wait_container(paths, name);
        if (exit_code != 0) {
            throw Error("service " + dependency.service + " exited with code " + std::to_string(exit_code) +
                            ", so " + service.name + " (depends_on: service_completed_successfully) was not started",
                        "see isolab compose logs " + dependency.service, 1);
        }
    }
}

// Starts replica `number` of a service: leaves a running container with unchanged
// settings alone, starts a stopped one, and replaces one with other settings.
container::StoredContainer start_replica(image::Store& store, const Project& project, const Service& service, int number) {
    const auto& paths = store.paths();
    auto request = run_options_for(project, service, number);
    auto existing = container::find_container(paths, request.name);
    if (existing && label_of(*existing, config_hash_label) == request.labels[config_hash_label]) {
        if (container::is_active(*existing)) {
            std::fprintf(stderr, "Container %s  Running\n", request.name.c_str());
        } else {
            // The start connects the networks recorded by the first connect_other_networks.
            container::start_container(paths, existing->config.id);
            std::fprintf(stderr, "Container %s  Started\n", request.name.c_str());
        }
        return container::require_container(paths, request.name);
    }
    if (existing) remove_project_container(paths, *existing, "Recreated");
    if (service.build && !store.find(service.image)) build_service(store, service, false);
    container::run_detached(store, request);
    fault_point("compose.started");
    connect_other_networks(paths, project, service, request.name);
    fault_point("compose.connected");
    std::fprintf(stderr, "Container %s  Started\n", request.name.c_str());
    return container::require_container(paths, request.name);
}

}  // namespace

Project load_with_warnings(const LoadOptions& options) {
    auto project = load_project(options);
    for (const auto& warning : project.warnings) std::fprintf(stderr, "isolab: warning: %s\n", warning.c_str());
    return project;
}

std::string project_name_for(const LoadOptions& options) {
    std::string name = options.project_name;
    if (name.empty() && options.environment) name = options.environment("COMPOSE_PROJECT_NAME").value_or("");
    if (!name.empty()) {
        validate_project_name(name);
        return name;
    }
    return load_with_warnings(options).name;
}

void parse_scale(const std::string& text, std::map<std::string, int>& scale) {
    auto equals = text.find('=');
    auto count = equals == std::string::npos ? "" : text.substr(equals + 1);
    bool digits = !count.empty() && count.size() < 5 && count.find_first_not_of("0123456789") == std::string::npos;
    if (equals == 0 || !digits) {
        throw Error("invalid --scale " + text, "use SERVICE=N with N a whole number from 0 to 9999, e.g. --scale web=3", 1);
    }
    scale[text.substr(0, equals)] = std::stoi(count);
}

container::RunOptions run_options_for(const Project& project, const Service& service, int number) {
    container::RunOptions options;
    options.image = service.image;
    options.name = container_name(project.name, service.name, number);
    if (service.command) options.command = *service.command;
    if (service.entrypoint) {
        // Docker's --entrypoint takes one program: the rest of a list goes before the command.
        options.entrypoint = service.entrypoint->empty() ? "" : service.entrypoint->front();
        std::vector<std::string> arguments(service.entrypoint->begin() + (service.entrypoint->empty() ? 0 : 1),
                                           service.entrypoint->end());
        // NOTE: without command:, the image's Cmd is dropped here, although docker compose
        // passes it after a list entrypoint.
        arguments.insert(arguments.end(), options.command.begin(), options.command.end());
        options.command = arguments;
    }
    options.env = service.environment;
    options.hostname = service.hostname;
    options.memory_limit = service.mem_limit;
    options.cpus = service.cpus;
    options.init = service.init;
    options.read_only = service.read_only;
    options.tmpfs = service.tmpfs;
    options.user = service.user;
    options.working_dir = service.working_dir;
    options.volumes = service.volumes;
    for (const auto& bind : service.colon_binds) options.mounts.push_back(mount_option(bind));
    options.restart_policy = service.restart;
    options.healthcheck = service.healthcheck;
    options.labels = service.labels;
    options.labels[project_label] = project.name;
    options.labels[service_label] = service.name;
    options.labels[number_label] = std::to_string(number);
    options.publish = service.ports;
    options.network = service.network_mode.empty() ? "none" : service.network_mode;
    if (!service.networks.empty()) {
        options.network = network_spec(project, service.networks.front().key).name;
        options.network_aliases = aliases_on(service, service.networks.front());
    }
    nlohmann::json request = options;
    // The other networks are joined after the start, so the request does not contain them.
    std::string other_networks;
    for (size_t i = 1; i < service.networks.size(); ++i) {
        other_networks += " " + network_spec(project, service.networks[i].key).name;
        for (const auto& alias : service.networks[i].aliases) other_networks += "," + alias;
    }
    options.labels[config_hash_label] = sha256_digest(request.dump() + other_networks);
    return options;
}

namespace {

// Serializes `up` and `down` of one project on one state root, so that concurrent runs
// end with one set of containers instead of racing for the same names.
std::unique_ptr<FileLock> lock_project(const Paths& paths, const std::string& project_name) {
    auto folder = paths.root / "compose-locks";
    fs::create_directories(folder);
    return std::make_unique<FileLock>(folder / (project_name + ".lock"));
}

// Creates or starts the project's volumes, networks and containers.
std::vector<container::StoredContainer> create_and_start(image::Store& store, const Project& project, const UpOptions& options) {
    const auto& paths = store.paths();
    auto lock = lock_project(paths, project.name);
    check_scale(project, options);
    check_networks(paths, project);
    if (options.build) build(store, project, false);

    CreatedResources created(paths);
    ensure_volumes(paths, project, created);
    ensure_networks(paths, project, created);
    std::vector<container::StoredContainer> started;
    for (const auto& service : project.services) {
        wait_for_dependencies(paths, project, service);
        int replicas = replicas_of(service, options);
        for (const auto& container : project_containers(paths, project.name, true)) {
            if (label_of(container, service_label) == service.name && container_number(container) > replicas) {
                remove_project_container(paths, container);
            }
        }
        for (int number = 1; number <= replicas; ++number) {
            started.push_back(start_replica(store, project, service, number));
            created.keep();
        }
    }
    created.keep();
    return started;
}

}  // namespace

int up(image::Store& store, const Project& project, const UpOptions& options) {
    const auto& paths = store.paths();
    auto started = create_and_start(store, project, options);
    if (options.detach) return 0;

    // Attached: Ctrl-C or SIGTERM stops the containers, which ends the log readers.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::atomic<bool> done = false;
    std::thread stopper([&] {
        timespec interval{0, 200'000'000};
        while (!done) {
            if (sigtimedwait(&signals, nullptr, &interval) > 0) {
                std::fprintf(stderr, "Gracefully stopping...\n");
                for (const auto& container : started) container::stop_container(paths, container.config.id, 10);
                return;
            }
        }
    });
    print_prefixed_logs(paths, started, true);
    done = true;
    stopper.join();
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    int exit_code = 0;
    for (const auto& container : started) {
        auto state = container::read_state(container.paths);
        std::fprintf(stderr, "%s exited with code %d\n", container.config.name.c_str(), state.exit_code.value_or(0));
        if (state.exit_code && *state.exit_code != 0) exit_code = *state.exit_code;
    }
    return exit_code;
}

std::vector<container::StoredContainer> project_containers(const Paths& paths, const std::string& project_name, bool all) {
    std::vector<container::StoredContainer> result;
    for (auto& container : container::list_containers(paths)) {
        if (label_of(container, project_label) != project_name) continue;
        if (!all && !container::is_active(container)) continue;
        result.push_back(std::move(container));
    }
    return result;
}

void down(const Paths& paths, const std::string& project_name, bool remove_volumes) {
    auto lock = lock_project(paths, project_name);
    auto containers = project_containers(paths, project_name, true);
    // Dependents first: the reverse of the order they were created in.
    std::reverse(containers.begin(), containers.end());
    for (const auto& container : containers) remove_project_container(paths, container);
    for (const auto& network : network::list_networks(paths)) {
        auto owner = network.labels.find(project_label);
        if (owner == network.labels.end() || owner->second != project_name) continue;
        network::remove_network(paths, network.name);
        std::fprintf(stderr, "Network %s  Removed\n", network.name.c_str());
    }
    if (!remove_volumes) return;
    for (const auto& volume : volume::list_volumes(paths)) {
        auto found = volume.labels.find(project_label);
        if (found == volume.labels.end() || found->second != project_name) continue;
        volume::remove_volume(paths, volume.name, false);
        std::fprintf(stderr, "Volume %s  Removed\n", volume.name.c_str());
    }
}

std::string format_ps(const std::vector<container::StoredContainer>& containers, bool json) {
    std::string text;
    auto now = std::chrono::system_clock::now();
    if (!json) {
        char line[512];
        std::snprintf(line, sizeof line, "%-30s %-20s %-20s %s\n", "NAME", "IMAGE", "SERVICE", "STATUS");
        text += line;
    }
    for (const auto& container : containers) {
        auto state = container::observed_state(container);
        auto status = container::status_text(container, now);
        auto service = label_of(container, service_label);
        if (json) {
            std::string command;
            for (const auto& argument : container.config.command) command += (command.empty() ? "" : " ") + argument;
            nlohmann::json object = {{"ID", container.config.id.substr(0, 12)},
                                     {"Name", container.config.name},
                                     {"Image", container.config.image},
                                     {"Command", command},
                                     {"Project", label_of(container, project_label)},
                                     {"Service", service},
                                     {"State", state.status},
                                     {"Health", state.status == "running" && state.health ? state.health->status : ""},
                                     {"Status", status},
                                     {"ExitCode", state.exit_code.value_or(0)},
                                     {"CreatedAt", container.config.created}};
            text += object.dump() + "\n";
        } else {
            char line[512];
            std::snprintf(line, sizeof line, "%-30s %-20s %-20s %s\n", container.config.name.c_str(),
                          container.config.image.c_str(), service.c_str(), status.c_str());
            text += line;
        }
    }
    return text;
}

void build(image::Store& store, const Project& project, bool no_cache) {
    for (const auto& service : project.services) {
        if (service.build) build_service(store, service, no_cache);
    }
}

void build_service(image::Store& store, const Service& service, bool no_cache) {
    build::BuildOptions options;
    options.context = service.build->context;
    if (!service.build->dockerfile.empty()) options.dockerfile = service.build->context / service.build->dockerfile;
    options.tags = {service.image};
    options.build_args = service.build->args;
    options.target = service.build->target;
    options.no_cache = no_cache;
    options.source_date_epoch = build::source_date_epoch_from_environment();
    options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    build::build_image(store, options);
}

void stop(const Paths& paths, const std::string& project_name, int timeout_seconds) {
    auto containers = project_containers(paths, project_name, false);
    std::reverse(containers.begin(), containers.end());
    for (const auto& container : containers) container::stop_container(paths, container.config.id, timeout_seconds);
}

void start(const Paths& paths, const std::string& project_name) {
    for (const auto& container : project_containers(paths, project_name, true)) {
        container::start_container(paths, container.config.id);
    }
}

void restart(const Paths& paths, const std::string& project_name, int timeout_seconds) {
    for (const auto& container : project_containers(paths, project_name, true)) {
        container::restart_container(paths, container.config.id, timeout_seconds);
    }
}

void logs(const Paths& paths, const std::string& project_name, bool follow) {
    print_prefixed_logs(paths, project_containers(paths, project_name, true), follow);
}

std::string container_of(const Paths& paths, const std::string& project_name, const std::string& service, int index) {
    std::vector<int> numbers;
    for (const auto& container : project_containers(paths, project_name, true)) {
        if (label_of(container, service_label) != service) continue;
        if (container_number(container) == index) return container.config.id;
        numbers.push_back(container_number(container));
    }
    if (numbers.empty()) {
        throw Error("service " + service + " of project " + project_name + " has no container",
                    "start it with isolab compose up -d", target_error_exit_code);
    }
    std::sort(numbers.begin(), numbers.end());
    std::string existing;
    for (int number : numbers) existing += (existing.empty() ? "" : ", ") + std::to_string(number);
    throw Error("service " + service + " of project " + project_name + " has no container with index " + std::to_string(index),
                "use --index with one of " + existing, target_error_exit_code);
}

void require_service(const Project& project, const std::string& service) {
    bool declared = std::any_of(project.services.begin(), project.services.end(),
                                [&](const Service& candidate) { return candidate.name == service; });
    if (!declared) throw Error("no such service: " + service, "see the services with 'isolab compose config'", 1);
}

}  // namespace isolab::compose
