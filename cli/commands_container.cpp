// Container commands: run.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/run.hpp"

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
};

container::RunOptions to_run_options(const RunArguments& arguments, const CLI::App& command) {
    container::RunOptions options;
    options.image = arguments.image;
    options.command = arguments.command;
    options.name = arguments.name;
    options.remove = arguments.remove;
    if (command.count("--memory") > 0) options.memory_limit = container::parse_memory_limit(arguments.memory);
    if (command.count("--hostname") > 0) options.hostname = arguments.hostname;
    auto lookup = container::process_environment();
    for (const auto& entry : arguments.env) {
        if (auto parsed = container::parse_env_option(entry, lookup)) options.env.push_back(*parsed);
    }
    return options;
}

void register_run(CLI::App& app, Context& context) {
    auto arguments = std::make_shared<RunArguments>();
    auto* run = app.add_subcommand("run", "Run a command in a new container, in the foreground");
    run->add_flag("--rm", arguments->remove, "Remove the container and its upper dir when it exits");
    run->add_option("--name", arguments->name, "Name of the container (default: generated)");
    run->add_option("-m,--memory", arguments->memory, "Memory limit, e.g. 64m or 1g (binary units, at least 6m)");
    run->add_option("-e,--env", arguments->env, "Set NAME=value, or pass NAME from this environment (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--hostname", arguments->hostname, "Hostname (default: the first 12 digits of the id)");
    run->add_option("image", arguments->image, "Image reference or id prefix")->required();
    run->add_option("command", arguments->command, "Command and arguments (default: the image's Entrypoint and Cmd)");
    // Everything after IMAGE belongs to the command, including words starting with '-'.
    run->positionals_at_end();

    run->callback([arguments, run, &context] {
        auto result = container::run(context.store(), to_run_options(*arguments, *run));
        context.exit_code = result.exit_code;
    });
}

}  // namespace

void register_container_commands(CLI::App& app, Context& context) { register_run(app, context); }

}  // namespace isolab::cli
