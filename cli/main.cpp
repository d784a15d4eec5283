// isolab: run the same image as a container and as a virtual machine, and measure both.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

int main(int argc, char** argv) {
    CLI::App app{"isolab: containers and virtual machines from the same image, side by side"};
    app.set_version_flag("--version", ISOLAB_VERSION);
    app.require_subcommand(1);

    std::string log_level = "warn";
    app.add_option("--log-level", log_level, "Log verbosity: trace, debug, info, warn, error or off")
        ->capture_default_str();

    isolab::cli::Context context;
    isolab::cli::register_image_commands(app, context);
    isolab::cli::register_container_commands(app, context);
    isolab::cli::register_lifecycle_commands(app, context);
    isolab::cli::register_vm_commands(app, context);
    isolab::cli::register_bench_commands(app, context);
    isolab::cli::register_lesson_commands(app, context);
    isolab::cli::register_system_commands(app, context);

    // Logging must be ready before any subcommand callback runs.
    app.parse_complete_callback([&] { isolab::log::init(log_level); });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    } catch (const isolab::Error& error) {
        std::fprintf(stderr, "isolab: %s\n", error.one_line().c_str());
        return error.exit_code();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "isolab: %s\n", error.what());
        return 125;
    }
    return context.exit_code;
}
