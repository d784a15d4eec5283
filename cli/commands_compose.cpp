// `isolab compose`: projects of several containers described in compose.yaml.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "runtime/compose/orchestrate.hpp"
#include "runtime/container/exec.hpp"
#include "runtime/container/options.hpp"

namespace isolab::cli {

namespace {

using Load = std::shared_ptr<compose::LoadOptions>;

// The global options of `compose`, before its command: -f, -p and --profile.
Load add_project_options(CLI::App& compose) {
    auto load = std::make_shared<compose::LoadOptions>();
    compose.add_option("-f,--file", load->files, "Compose file (repeatable; later files override earlier ones)")
        ->allow_extra_args(false);
    compose.add_option("-p,--project-name", load->project_name, "Project name (default: COMPOSE_PROJECT_NAME, "
                                                               "the file's name: key, else the folder's name)");
    compose.add_option("--profile", load->active_profiles, "Also start services of this profile (repeatable)")
        ->allow_extra_args(false);
    compose.preparse_callback([load](std::size_t) {
        load->working_dir = std::filesystem::current_path();
        load->environment = container::process_environment();
    });
    compose.parse_complete_callback([load] {
        // COMPOSE_PROFILES adds comma-separated profiles, as docker compose reads it.
        if (const char* profiles = std::getenv("COMPOSE_PROFILES")) {
            std::stringstream list(profiles);
            std::string profile;
            while (std::getline(list, profile, ',')) {
                if (!profile.empty()) load->active_profiles.push_back(profile);
            }
        }
    });
    return load;
}

void register_up_down(CLI::App& compose, Context& context, const Load& load) {
    auto up_options = std::make_shared<compose::UpOptions>();
    auto* up = compose.add_subcommand("up", "Create the project's volumes and start its services in dependency order");
    up->add_flag("-d,--detach", up_options->detach, "Return once the containers run, instead of printing their output");
    up->add_flag("--build", up_options->build, "Build the images of services with build: first");
    auto scale = std::make_shared<std::vector<std::string>>();
    up->add_option("--scale", *scale, "Run N replicas of a service, as SERVICE=N (repeatable; overrides the file)")
        ->allow_extra_args(false);
    up->callback([&context, load, up_options, scale] {
        for (const auto& value : *scale) compose::parse_scale(value, up_options->scale);
        context.exit_code = compose::up(context.store(), compose::load_with_warnings(*load), *up_options);
    });

    auto remove_volumes = std::make_shared<bool>(false);
    auto* down = compose.add_subcommand("down", "Stop and remove the project's containers and networks");
    down->add_flag("-v,--volumes", *remove_volumes, "Remove the project's named volumes too");
    down->callback([&context, load, remove_volumes] {
        compose::down(context.paths, compose::project_name_for(*load), *remove_volumes);
    });
}

void register_ps_logs_config(CLI::App& compose, Context& context, const Load& load) {
    auto all = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>("table");
    auto* ps = compose.add_subcommand("ps", "List the project's containers");
    ps->add_flag("-a,--all", *all, "Also list stopped containers");
    ps->add_option("--format", *format, "table or json (one object per line)")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    ps->callback([&context, load, all, format] {
        auto containers = compose::project_containers(context.paths, compose::project_name_for(*load), *all);
        std::fputs(compose::format_ps(containers, *format == "json").c_str(), stdout);
    });

    auto follow = std::make_shared<bool>(false);
    auto* logs = compose.add_subcommand("logs", "Print the output of the project's containers");
    logs->add_flag("-f,--follow", *follow, "Keep printing new output until the containers stop");
    logs->callback([&context, load, follow] {
        compose::logs(context.paths, compose::project_name_for(*load), *follow);
    });

    auto* config = compose.add_subcommand("config", "Print the merged and interpolated compose file");
    config->callback([load] { std::fputs(compose::project_to_yaml(compose::load_with_warnings(*load)).c_str(), stdout); });

    auto no_cache = std::make_shared<bool>(false);
    auto* build = compose.add_subcommand("build", "Build the images of services with build:");
    build->add_flag("--no-cache", *no_cache, "Run every build step instead of reusing cached layers");
    build->callback([&context, load, no_cache] {
        compose::build(context.store(), compose::load_with_warnings(*load), *no_cache);
    });
}

void register_stop_start(CLI::App& compose, Context& context, const Load& load) {
    auto timeout = std::make_shared<int>(10);
    auto* stop = compose.add_subcommand("stop", "Stop the project's running containers");
    stop->add_option("-t,--timeout", *timeout, "Seconds to wait before SIGKILL")->capture_default_str();
    stop->callback([&context, load, timeout] {
        compose::stop(context.paths, compose::project_name_for(*load), *timeout);
    });

    auto* start = compose.add_subcommand("start", "Start the project's stopped containers");
    start->callback([&context, load] { compose::start(context.paths, compose::project_name_for(*load)); });

    auto restart_timeout = std::make_shared<int>(10);
    auto* restart = compose.add_subcommand("restart", "Restart the project's containers");
    restart->add_option("-t,--timeout", *restart_timeout, "Seconds to wait before SIGKILL")->capture_default_str();
    restart->callback([&context, load, restart_timeout] {
        compose::restart(context.paths, compose::project_name_for(*load), *restart_timeout);
    });
}

void register_exec(CLI::App& compose, Context& context, const Load& load) {
    auto options = std::make_shared<container::ExecOptions>();
    auto service = std::make_shared<std::string>();
    auto no_tty = std::make_shared<bool>(false);
    auto index = std::make_shared<int>(1);
    auto* exec = compose.add_subcommand("exec", "Run a command in the running container of a service");
    exec->add_flag("-T,--no-TTY", *no_tty, "Give the command no pseudo-terminal (default: one when stdin is a terminal)");
    exec->add_flag("-d,--detach", options->detach, "Start the command in the background and return");
    exec->add_option("-e,--env", options->env, "Set NAME=value (repeatable)")->allow_extra_args(false);
    exec->add_option("-u,--user", options->user, "Run as USER[:GROUP] or UID[:GID]");
    exec->add_option("-w,--workdir", options->working_dir, "Working directory inside the container (absolute)");
    exec->add_option("--index", *index, "Replica of a scaled service to run the command in, from 1")->capture_default_str();
    exec->add_option("service", *service, "Service name")->required();
    exec->add_option("command", options->command, "Command and arguments")->required();
    exec->positionals_at_end();
    exec->callback([&context, load, options, service, no_tty, index] {
        // docker compose exec is interactive, with a terminal when stdin is one and -T is not given.
        options->interactive = !options->detach;
        options->tty = !*no_tty && !options->detach && isatty(STDIN_FILENO) == 1;
        auto project = compose::load_with_warnings(*load);
        compose::require_service(project, *service);
        options->container = compose::container_of(context.paths, project.name, *service, *index);
        context.exit_code = container::exec(context.paths, *options);
    });
}

}  // namespace

void register_compose_commands(CLI::App& app, Context& context) {
    auto* compose = app.add_subcommand("compose", "Run a project of containers described in compose.yaml");
    compose->require_subcommand(1);
    auto load = add_project_options(*compose);
    register_up_down(*compose, context, load);
    register_ps_logs_config(*compose, context, load);
    register_stop_start(*compose, context, load);
    register_exec(*compose, context, load);
}

}  // namespace isolab::cli
