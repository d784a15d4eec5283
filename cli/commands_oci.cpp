// OCI runtime commands: oci create, start, state, kill, delete, run, as runc has them.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/context.hpp"
#include "runtime/oci/container.hpp"

namespace isolab::cli {

namespace {

// What every oci subcommand takes: --root on the group, the id and the bundle.
struct OciArguments {
    std::string root;
    std::string id;
    std::string bundle = ".";
    std::string pid_file;

    std::filesystem::path root_path(const Context& context) const {
        return root.empty() ? oci::default_root(context.paths) : std::filesystem::path(root);
    }
};

void add_id(CLI::App& command, OciArguments& arguments) {
    command.add_option("id", arguments.id, "Container id")->required();
}

void add_bundle(CLI::App& command, OciArguments& arguments) {
    command.add_option("-b,--bundle", arguments.bundle, "Bundle folder, holding config.json")->capture_default_str();
    command.add_option("--pid-file", arguments.pid_file, "Write the container's first pid to this file");
}

}  // namespace

void register_oci_commands(CLI::App& app, Context& context) {
    auto arguments = std::make_shared<OciArguments>();
    auto* oci = app.add_subcommand("oci", "Run an OCI bundle with the runtime spec's command line, as runc does");
    oci->require_subcommand(1);
    oci->add_option("--root", arguments->root, "Folder of the containers' state (default: <state root>/oci)");

    auto* create = oci->add_subcommand("create", "Create a container: set up, stopped before its program runs");
    add_id(*create, *arguments);
    add_bundle(*create, *arguments);
    create->callback([arguments, &context] {
        oci::create_container(arguments->root_path(context), arguments->id, arguments->bundle, arguments->pid_file);
    });

    auto* start = oci->add_subcommand("start", "Run the program of a created container");
    add_id(*start, *arguments);
    start->callback([arguments, &context] { oci::start_container(arguments->root_path(context), arguments->id); });

    auto* state = oci->add_subcommand("state", "Print the state of a container as JSON");
    add_id(*state, *arguments);
    state->callback([arguments, &context] {
        std::fputs(oci::container_state(arguments->root_path(context), arguments->id).c_str(), stdout);
    });

    auto signal = std::make_shared<std::string>("TERM");
    auto* kill = oci->add_subcommand("kill", "Send a signal to the container's first process");
    add_id(*kill, *arguments);
    kill->add_option("signal", *signal, "Signal name (TERM, SIGKILL) or number")->capture_default_str();
    kill->callback([arguments, signal, &context] {
        oci::kill_container(arguments->root_path(context), arguments->id, *signal);
    });

    auto force = std::make_shared<bool>(false);
    auto* remove = oci->add_subcommand("delete", "Delete a stopped or created container");
    add_id(*remove, *arguments);
    remove->add_flag("-f,--force", *force, "Kill a running container first");
    remove->callback([arguments, force, &context] {
        oci::delete_container(arguments->root_path(context), arguments->id, *force);
    });

    auto* run = oci->add_subcommand("run", "Create and start a container, wait for it, delete it; exit with its exit code");
    add_id(*run, *arguments);
    add_bundle(*run, *arguments);
    run->callback([arguments, &context] {
        context.exit_code =
            oci::run_container(arguments->root_path(context), arguments->id, arguments->bundle, arguments->pid_file);
    });
}

}  // namespace isolab::cli
