// Lifecycle commands of containers: start, stop, kill, restart, wait, logs, inspect, and
// the hidden container-monitor command that a detached container runs under.
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "runtime/container/attach.hpp"
#include "runtime/container/inspect.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/monitor.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"

namespace isolab::cli {

namespace {

using Names = std::shared_ptr<std::vector<std::string>>;

Names add_container_names(CLI::App& command) {
    auto names = std::make_shared<std::vector<std::string>>();
    command.add_option("container", *names, "Container names, ids or unique id prefixes")->required();
    return names;
}

void register_start(CLI::App& app, Context& context) {
    auto* start = app.add_subcommand("start", "Start created or stopped containers under a monitor");
    auto attach = std::make_shared<bool>(false);
    start->add_flag("-a,--attach", *attach, "Print the container's output until it exits and return its exit code");
    auto names = add_container_names(*start);
    start->callback([&context, attach, names] {
        if (*attach && names->size() != 1) throw Error("start -a takes one container", "start the others separately");
        for (const auto& name : *names) {
            if (*attach) {
                context.exit_code = container::start_attached(context.paths, name);
            } else {
                container::start_container(context.paths, name);
                std::printf("%s\n", name.c_str());
            }
        }
    });
}

void register_stop(CLI::App& app, Context& context, const std::string& name) {
    bool restart = name == "restart";
    auto* stop = app.add_subcommand(name, restart ? "Stop containers, then start them again"
                                                  : "Stop containers: the image's StopSignal (default SIGTERM), "
                                                    "SIGKILL after the timeout");
    auto timeout = std::make_shared<int>(10);
    stop->add_option("-t,--time", *timeout, "Seconds to wait before SIGKILL (-1: wait forever)")->capture_default_str();
    auto names = add_container_names(*stop);
    stop->callback([&context, timeout, names, restart] {
        for (const auto& container_name : *names) {
            if (restart) {
                container::restart_container(context.paths, container_name, *timeout);
            } else {
                container::stop_container(context.paths, container_name, *timeout);
            }
            std::printf("%s\n", container_name.c_str());
        }
    });
}

void register_kill(CLI::App& app, Context& context) {
    auto* kill = app.add_subcommand("kill", "Send a signal to running containers (default SIGKILL)");
    auto signal = std::make_shared<std::string>("SIGKILL");
    kill->add_option("-s,--signal", *signal, "Signal name or number, e.g. SIGHUP, HUP or 1")->capture_default_str();
    auto names = add_container_names(*kill);
    kill->callback([&context, signal, names] {
        int number = container::parse_signal(*signal);
        for (const auto& name : *names) {
            container::kill_container(context.paths, name, number);
            std::printf("%s\n", name.c_str());
        }
    });
}

void register_wait(CLI::App& app, Context& context) {
    auto* wait = app.add_subcommand("wait", "Wait until containers stop and print their exit codes");
    auto names = add_container_names(*wait);
    wait->callback([&context, names] {
        for (const auto& name : *names) {
            std::printf("%d\n", container::wait_container(context.paths, name));
            std::fflush(stdout);
        }
    });
}

void register_logs(CLI::App& app, Context& context) {
    auto* logs = app.add_subcommand("logs", "Print a container's output: stdout lines to stdout, stderr lines to stderr");
    auto follow = std::make_shared<bool>(false);
    auto timestamps = std::make_shared<bool>(false);
    auto tail = std::make_shared<std::string>("all");
    auto name = std::make_shared<std::string>();
    logs->add_flag("-f,--follow", *follow, "Keep printing new output until the container stops");
    logs->add_flag("-t,--timestamps", *timestamps, "Prefix each line with its RFC 3339 time");
    logs->add_option("-n,--tail", *tail, "Print only the last N lines, or all")->capture_default_str();
    logs->add_option("container", *name, "Container name, id or unique id prefix")->required();
    logs->callback([&context, follow, timestamps, tail, name] {
        container::LogsOptions options;
        options.follow = *follow;
        options.timestamps = *timestamps;
        if (*tail != "all") {
            try {
                size_t consumed = 0;
                long long lines = std::stoll(*tail, &consumed);
                if (consumed != tail->size() || lines < 0) throw std::invalid_argument(*tail);
                options.tail = static_cast<size_t>(lines);
            } catch (const std::logic_error&) {
                throw Error("invalid --tail '" + *tail + "'", "give a number of lines, e.g. --tail 10, or all");
            }
        }
        container::print_logs(context.paths, *name, options);
    });
}

void register_inspect(CLI::App& app, Context& context) {
    auto* inspect = app.add_subcommand("inspect", "Show containers as a JSON array in the shape of docker inspect");
    auto names = add_container_names(*inspect);
    inspect->callback([&context, names] {
        auto result = container::inspect_containers(context.store(), *names);
        std::printf("%s\n", result.containers.dump(4).c_str());
        if (!result.missing.empty()) {
            std::string missing;
            for (const auto& name : result.missing) missing += (missing.empty() ? "" : ", ") + name;
            throw container::no_such_container(missing);
        }
    });
}

// Run by `run -d` and `start` in a process of its own; hidden from --help.
void register_monitor(CLI::App& app, Context& context) {
    auto* monitor = app.add_subcommand(container::monitor_command, "Own a detached container until it ends");
    monitor->group("");
    auto ready_fd = std::make_shared<int>(-1);
    auto id = std::make_shared<std::string>();
    monitor->add_option("--ready-fd", *ready_fd, "Descriptor to report the first start on")->required();
    monitor->add_option("id", *id, "Container id")->required();
    monitor->callback([&context, ready_fd, id] { context.exit_code = container::run_monitor(context.paths, *id, *ready_fd); });
}

}  // namespace

void register_lifecycle_commands(CLI::App& app, Context& context) {
    register_start(app, context);
    register_stop(app, context, "stop");
    register_stop(app, context, "restart");
    register_kill(app, context);
    register_wait(app, context);
    register_logs(app, context);
    register_inspect(app, context);
    register_monitor(app, context);
}

}  // namespace isolab::cli
