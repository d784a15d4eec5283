// Commands on running containers: exec, top, stats.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "runtime/container/env_file.hpp"
#include "runtime/container/exec.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/stats.hpp"

namespace isolab::cli {

namespace {

void register_exec(CLI::App& app, Context& context) {
    auto options = std::make_shared<container::ExecOptions>();
    auto env = std::make_shared<std::vector<std::string>>();
    auto* exec = app.add_subcommand("exec", "Run a command in a running container");
    exec->add_flag("-i,--interactive", options->interactive, "Keep stdin open and pass it to the command");
    exec->add_flag("-t,--tty", options->tty, "Give the command a pseudo-terminal");
    exec->add_flag("-d,--detach", options->detach, "Start the command in the background and return");
    auto env_files = std::make_shared<std::vector<std::string>>();
    exec->add_option("-e,--env", *env, "Set NAME=value, or pass NAME from this environment (repeatable)")->allow_extra_args(false);
    exec->add_option("--env-file", *env_files, "Read NAME=value lines from a file (repeatable)")->allow_extra_args(false);
    exec->add_option("-u,--user", options->user, "Run as USER[:GROUP] or UID[:GID] (default: the container's user)");
    exec->add_option("-w,--workdir", options->working_dir, "Working directory inside the container (absolute)");
    exec->add_option("container", options->container, "Container name or id")->required();
    exec->add_option("command", options->command, "Command and arguments")->required();
    // Everything after CONTAINER belongs to the command, including words starting with '-'.
    exec->positionals_at_end();

    exec->callback([options, env, env_files, &context] {
        auto lookup = container::process_environment();
        // As in Docker, -e values override those from --env-file.
        for (const auto& file : *env_files) {
            for (auto& entry : container::read_env_file(file, lookup)) options->env.push_back(std::move(entry));
        }
        for (const auto& entry : *env) {
            if (auto parsed = container::parse_env_option(entry, lookup)) options->env.push_back(*parsed);
        }
        context.exit_code = container::exec(context.paths, *options);
    });
}

void register_top(CLI::App& app, Context& context) {
    auto name = std::make_shared<std::string>();
    auto ps_options = std::make_shared<std::vector<std::string>>();
    auto* top = app.add_subcommand("top", "Show the processes of a running container, as ps on the host sees them");
    top->add_option("container", *name, "Container name or id")->required();
    top->add_option("ps_options", *ps_options, "Options for ps (default: -ef)");
    // Words after CONTAINER are ps options, including those starting with '-'.
    top->positionals_at_end();
    top->callback([name, ps_options, &context] {
        std::fputs(container::top(context.paths, *name, *ps_options).c_str(), stdout);
    });
}

void register_stats(CLI::App& app, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto no_stream = std::make_shared<bool>(false);
    auto* stats = app.add_subcommand("stats", "Show CPU, memory and process use of running containers");
    stats->add_flag("--no-stream", *no_stream, "Print one table and exit instead of refreshing every second");
    stats->add_option("container", *names, "Container names or ids (default: every running container)");
    stats->callback([names, no_stream, &context] { container::print_stats(context.paths, *names, *no_stream); });
}

}  // namespace

void register_exec_commands(CLI::App& app, Context& context) {
    register_exec(app, context);
    register_top(app, context);
    register_stats(app, context);
}

}  // namespace isolab::cli
