// Container commands: run, create, ps, rm.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "cli/health_options.hpp"
#include "cli/phase_table.hpp"
#include "runtime/container/diff.hpp"
#include "runtime/container/env_file.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/container/manage.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/ps_format.hpp"
#include "runtime/container/run.hpp"
#include "runtime/container/security.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::cli {

namespace {

struct RunArguments {
    bool remove = false;
    std::string name;
    std::string memory;
    std::vector<std::string> env;
    std::string hostname;
    std::string image;
    std::vector<std::string> command;
    bool init = false;
    bool read_only = false;
    std::vector<std::string> tmpfs;
    std::vector<std::string> devices;
    std::string user;
    std::string working_dir;
    std::vector<std::string> cap_add;
    std::vector<std::string> cap_drop;
    bool privileged = false;
    std::vector<std::string> security_options;
    std::int64_t pids_limit = 0;
    double cpus = 0;
    std::uint64_t cpu_shares = 0;
    std::string memory_swap;
    std::vector<std::string> env_files;
    std::string entrypoint;
    std::string network;
    std::vector<std::string> network_aliases;
    std::string pid_mode;
    std::string ipc_mode;
    bool interactive = false;
    bool tty = false;
    std::vector<std::string> volumes;
    std::vector<std::string> mounts;
    bool detach = false;
    std::string restart_policy = "no";
    bool phases = false;
    HealthArguments health;
    std::vector<std::string> publish;
    bool publish_all = false;
};

container::RunOptions to_run_options(const RunArguments& arguments, const CLI::App& command) {
    container::RunOptions options;
    options.image = arguments.image;
    options.command = arguments.command;
    options.name = arguments.name;
    options.remove = arguments.remove;
    if (command.count("--memory") > 0) options.memory_limit = container::parse_memory_limit(arguments.memory);
    if (command.count("--hostname") > 0) options.hostname = arguments.hostname;
    options.init = arguments.init;
    options.read_only = arguments.read_only;
    options.tmpfs = arguments.tmpfs;
    options.devices = arguments.devices;
    options.user = arguments.user;
    options.working_dir = arguments.working_dir;
    options.cap_add = arguments.cap_add;
    options.cap_drop = arguments.cap_drop;
    options.privileged = arguments.privileged;
    options.volumes = arguments.volumes;
    options.mounts = arguments.mounts;
    for (const auto& option : arguments.security_options) container::apply_security_option(option, options);
    if (command.count("--pids-limit") > 0) options.pids_limit = arguments.pids_limit;
    if (command.count("--cpus") > 0) options.cpus = arguments.cpus;
    if (command.count("--cpu-shares") > 0) options.cpu_shares = arguments.cpu_shares;
    if (command.count("--memory-swap") > 0) {
        options.memory_swap = arguments.memory_swap == "-1" ? -1 : static_cast<std::int64_t>(parse_size(arguments.memory_swap));
    }
    if (command.count("--entrypoint") > 0) options.entrypoint = arguments.entrypoint;
    // As in Docker, a container joins the default bridge network unless --network names another.
    options.network = arguments.network.empty() ? "bridge" : arguments.network;
    options.network_aliases = arguments.network_aliases;
    options.publish = arguments.publish;
    options.publish_all = arguments.publish_all;
    options.pid_mode = arguments.pid_mode;
    options.ipc_mode = arguments.ipc_mode;
    options.interactive = arguments.interactive;
    options.tty = arguments.tty;
    options.restart_policy = arguments.restart_policy;
    options.healthcheck = requested_healthcheck(arguments.health, command);
    auto lookup = container::process_environment();
    // As in Docker, -e values override those from --env-file.
    for (const auto& file : arguments.env_files) {
        for (auto& entry : container::read_env_file(file, lookup)) options.env.push_back(std::move(entry));
    }
    for (const auto& entry : arguments.env) {
        if (auto parsed = container::parse_env_option(entry, lookup)) options.env.push_back(*parsed);
    }
    return options;
}

// `run` and `create` take the same options; `create` only makes the container.
void register_run(CLI::App& app, Context& context, const std::string& name, const std::string& description) {
    auto arguments = std::make_shared<RunArguments>();
    auto* run = app.add_subcommand(name, description);
    if (name == "run") {
        run->add_flag("-d,--detach", arguments->detach, "Run in the background under a monitor and print the id");
        run->add_flag("--phases", arguments->phases, "Print the start-up phases on stderr after the workload exits");
    }
    run->add_option("--restart", arguments->restart_policy,
                    "Restart policy of a detached container: no, on-failure[:N], always or unless-stopped");
    run->add_flag("--rm", arguments->remove, "Remove the container and its upper dir when it exits");
    run->add_option("--name", arguments->name, "Name of the container (default: generated)");
    run->add_option("-m,--memory", arguments->memory, "Memory limit, e.g. 64m or 1g (binary units, at least 6m)");
    run->add_option("-e,--env", arguments->env, "Set NAME=value, or pass NAME from this environment (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--hostname", arguments->hostname, "Hostname (default: the first 12 digits of the id)");
    run->add_flag("--init", arguments->init, "Run isolab-init as pid 1: it forwards signals and reaps orphans");
    run->add_flag("--read-only", arguments->read_only, "Mount the rootfs read-only");
    run->add_option("--tmpfs", arguments->tmpfs, "Mount a tmpfs at PATH[:OPTIONS], e.g. /run:size=64m (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--device", arguments->devices,
                    "Add the host device HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]], e.g. /dev/fuse:/dev/fuse:rw (repeatable)")
        ->allow_extra_args(false);
    run->add_option("-u,--user", arguments->user, "Run as USER[:GROUP] or UID[:GID] from the image's /etc/passwd");
    run->add_option("-w,--workdir", arguments->working_dir, "Working directory inside the container (absolute)");
    run->add_option("--cap-add", arguments->cap_add, "Add a capability, e.g. NET_ADMIN, or ALL (repeatable)")->allow_extra_args(false);
    run->add_option("--cap-drop", arguments->cap_drop, "Drop a capability, or ALL (repeatable)")->allow_extra_args(false);
    run->add_flag("--privileged", arguments->privileged, "All capabilities, no seccomp filter, no masked paths");
    run->add_option("--security-opt", arguments->security_options, "seccomp=unconfined turns the seccomp filter off; seccomp=FILE.json loads a Docker seccomp profile")
        ->allow_extra_args(false);
    run->add_option("--pids-limit", arguments->pids_limit, "Maximum number of processes (0 or -1: unlimited)");
    run->add_option("--cpus", arguments->cpus, "CPU time as a number of CPUs, e.g. 0.5");
    run->add_option("--cpu-shares", arguments->cpu_shares, "Relative CPU weight (default 1024)");
    run->add_option("--memory-swap", arguments->memory_swap, "Memory plus swap limit, e.g. 128m, or -1 for unlimited swap");
    run->add_option("--env-file", arguments->env_files, "Read NAME=value lines from a file (repeatable)")->allow_extra_args(false);
    run->add_option("--entrypoint", arguments->entrypoint, "Replace the image's Entrypoint (and its Cmd unless a command is given)");
    run->add_option("--network", arguments->network,
                    "bridge (default: an address on isolab's bridge), none (only lo), host, or a network from 'isolab network create'");
    run->add_option("--network-alias", arguments->network_aliases,
                    "Another name the other containers on the user-defined network resolve (repeatable)")
        ->allow_extra_args(false);
    run->add_option("-p,--publish", arguments->publish, "Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp] (repeatable)")
        ->allow_extra_args(false);
    run->add_flag("-P,--publish-all", arguments->publish_all, "Publish each port the image exposes on a free host port");
    run->add_option("--pid", arguments->pid_mode, "host: share the host's pid namespace");
    run->add_option("--ipc", arguments->ipc_mode, "host: share the host's ipc namespace");
    run->add_flag("-i,--interactive", arguments->interactive, "Keep stdin open and pass it to the workload");
    run->add_flag("-t,--tty", arguments->tty, "Give the workload a pseudo-terminal");
    run->add_option("-v,--volume", arguments->volumes,
                    "Mount a volume or host path: NAME:/path[:ro], /host/path:/path[:ro] or /path (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--mount", arguments->mounts,
                    "Mount type=volume|bind|tmpfs,source=...,target=...[,readonly] (repeatable)")
        ->allow_extra_args(false);
    add_health_options(*run, arguments->health);
    run->add_option("image", arguments->image, "Image reference or id prefix")->required();
    run->add_option("command", arguments->command, "Command and arguments (default: the image's Entrypoint and Cmd)");
    // Everything after IMAGE belongs to the command, including words starting with '-'.
    run->positionals_at_end();

    run->callback([arguments, run, name, &context] {
        auto options = to_run_options(*arguments, *run);
        if (name == "run" && !arguments->detach && options.restart_policy != "no") {
            throw Error("--restart needs -d: only the monitor of a detached container restarts it",
                        "add -d, e.g. isolab run -d --restart on-failure busybox ...");
        }
        if (arguments->phases && arguments->detach) {
            throw Error("--phases needs a foreground run: a detached container's phases are not printed",
                        "drop -d, or drop --phases");
        }
        if (name == "create") {
            std::printf("%s\n", container::create_container(context.store(), options).c_str());
        } else if (arguments->detach) {
            std::printf("%s\n", container::run_detached(context.store(), options).c_str());
        } else {
            auto result = container::run(context.store(), options);
            if (arguments->phases) print_phase_table(result.phases);
            context.exit_code = result.exit_code;
        }
    });
}

void register_ps(CLI::App& app, Context& context) {
    auto all = std::make_shared<bool>(false);
    auto quiet = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>();
    auto* ps = app.add_subcommand("ps", "List containers (running ones unless -a)");
    ps->add_flag("-a,--all", *all, "Show every container, also exited ones");
    ps->add_flag("-q,--quiet", *quiet, "Show only the short ids");
    ps->add_option("--format", *format, "json, or a template such as '{{.Names}}\\t{{.Status}}' (fields: ID, Names, Image, "
                                        "Command, CreatedAt, Status, State)");
    ps->callback([all, quiet, format, &context] {
        auto containers = container::containers_for_ps(context.paths, *all);
        if (!format->empty() && !*quiet) {
            std::fputs(container::format_ps_template(containers, *format).c_str(), stdout);
        } else {
            std::fputs(container::format_ps(containers, *quiet).c_str(), stdout);
        }
    });
}

void register_rm(CLI::App& app, Context& context) {
    auto force = std::make_shared<bool>(false);
    auto volumes = std::make_shared<bool>(false);
    auto names = std::make_shared<std::vector<std::string>>();
    auto* rm = app.add_subcommand("rm", "Remove containers and their upper dirs");
    rm->add_flag("-f,--force", *force, "Kill a running container first");
    rm->add_flag("-v,--volumes", *volumes, "Remove the container's anonymous volumes too");
    rm->add_option("container", *names, "Container names or ids")->required();
    rm->callback([force, volumes, names, &context] {
        for (const auto& name : *names) {
            container::remove_container(context.paths, name, *force, *volumes);
            std::printf("%s\n", name.c_str());
        }
    });
}

void register_diff(CLI::App& app, Context& context) {
    auto name = std::make_shared<std::string>();
    auto* diff = app.add_subcommand("diff", "List files a container added (A), changed (C) or deleted (D) over its image");
    diff->add_option("container", *name, "Container name or id")->required();
    diff->callback([name, &context] {
        std::fputs(container::format_changes(container::container_changes(context.store(), *name)).c_str(), stdout);
    });
}

}  // namespace

void register_container_commands(CLI::App& app, Context& context) {
    register_run(app, context, "run", "Run a command in a new container, in the foreground or with -d in the background");
    register_run(app, context, "create", "Create a container without starting it; start it with 'isolab start'");
    register_ps(app, context);
    register_rm(app, context);
    register_diff(app, context);
}

}  // namespace isolab::cli
