#include "runtime/compose/orchestrate.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
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
#include "runtime/volume/volume.hpp"

namespace isolab::compose {

namespace {

std::string container_name(const std::string& project, const std::string& service) {
    return project + "-" + service + "-1";
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

void ensure_volumes(const Paths& paths, const Project& project) {
    for (const auto& volume : project.volumes) {
        auto name = project.name + "_" + volume;
        if (!volume::find_volume(paths, name)) {
            volume::create_volume(paths, name, {{project_label, project.name}, {"com.docker.compose.volume", volume}});
            std::fprintf(stderr, "Volume %s  Created\n", name.c_str());
        }
    }
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

container::RunOptions run_options_for(const Project& project, const Service& service) {
    container::RunOptions options;
    options.image = service.image;
    options.name = container_name(project.name, service.name);
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
    options.restart_policy = service.restart;
    options.healthcheck = service.healthcheck;
    options.labels = service.labels;
    options.labels[project_label] = project.name;
    options.labels[service_label] = service.name;
    options.labels["com.docker.compose.container-number"] = "1";
    nlohmann::json request = options;
    options.labels[config_hash_label] = sha256_digest(request.dump());
    return options;
}

int up(image::Store& store, const Project& project, const UpOptions& options) {
    const auto& paths = store.paths();
    if (options.build) build(store, project, false);
    ensure_volumes(paths, project);

    std::vector<container::StoredContainer> started;
    for (const auto& service : project.services) {
        wait_for_dependencies(paths, project, service);
        auto request = run_options_for(project, service);
        auto existing = container::find_container(paths, request.name);
        if (existing && label_of(*existing, config_hash_label) == request.labels[config_hash_label]) {
            if (container::is_active(*existing)) {
                std::fprintf(stderr, "Container %s  Running\n", request.name.c_str());
            } else {
                container::start_container(paths, existing->config.id);
                std::fprintf(stderr, "Container %s  Started\n", request.name.c_str());
            }
        } else {
            if (existing) {
                container::stop_container(paths, existing->config.id, 10);
                container::remove_container(paths, existing->config.id, true);
                std::fprintf(stderr, "Container %s  Recreated\n", request.name.c_str());
            }
            if (service.build && !store.find(service.image)) build_service(store, service, false);
            container::run_detached(store, request);
            std::fprintf(stderr, "Container %s  Started\n", request.name.c_str());
        }
        started.push_back(container::require_container(paths, request.name));
    }
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
    auto containers = project_containers(paths, project_name, true);
    // Dependents first: the reverse of the order they were created in.
    std::reverse(containers.begin(), containers.end());
    for (const auto& container : containers) {
        container::stop_container(paths, container.config.id, 10);
        container::remove_container(paths, container.config.id, true);
        std::fprintf(stderr, "Container %s  Removed\n", container.config.name.c_str());
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

std::string container_of(const Paths& paths, const std::string& project_name, const std::string& service) {
    for (const auto& container : project_containers(paths, project_name, true)) {
        if (label_of(container, service_label) == service) return container.config.id;
    }
    throw Error("service " + service + " of project " + project_name + " has no container",
                "start it with isolab compose up -d", 1);
}

}  // namespace isolab::compose
