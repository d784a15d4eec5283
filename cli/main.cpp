// isolab: run the same image as a container and as a virtual machine, and measure both.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace {

// The exit code of a command line that could not be parsed, as Docker uses for it.
constexpr int usage_exit_code = 125;

// The words of the deepest subcommand CLI11 reached, e.g. "isolab image".
std::string command_path(const CLI::App& app) {
    std::string path = "isolab";
    const CLI::App* current = &app;
    while (true) {
        auto parsed = current->get_subcommands();
        if (parsed.empty()) break;
        current = parsed.front();
        path += " " + current->get_name();
    }
    return path;
}

const CLI::App& deepest_subcommand(const CLI::App& app) {
    const CLI::App* current = &app;
    while (!current->get_subcommands().empty()) current = current->get_subcommands().front();
    return *current;
}

// Prints a parse error on one line with what to do, as isolab prints every error.
// Help and --version are not errors and keep CLI11's output.
int report_parse_error(CLI::App& app, const CLI::ParseError& error, const std::vector<std::string>& words) {
    if (error.get_exit_code() == 0) return app.exit(error);
    std::string path = command_path(app);
    const CLI::App& command = deepest_subcommand(app);
    std::string message = error.what();
    if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr && message == "A subcommand is required") {
        // The first word after the deepest known command that is not an option.
        std::vector<std::string> remaining;
        auto known = std::find(words.begin(), words.end(), command.get_name());
        for (auto word = known == words.end() ? words.begin() : known + 1; word != words.end(); ++word) {
            if (*word == "--log-level" && word + 1 != words.end()) {
                ++word;  // its value is not a command
            } else if (!word->empty() && word->front() != '-') {
                remaining.push_back(*word);
            }
        }
        std::string names;
        for (const auto* subcommand : command.get_subcommands({})) {
            // Internal commands are in the group "", which --help hides too.
            if (subcommand->get_group().empty()) continue;
            names += (names.empty() ? "" : ", ") + subcommand->get_name();
        }
        if (!remaining.empty()) {
            message = "unknown command '" + remaining.front() + "'";
        } else {
            message = "'" + path + "' needs a command: " + names;
        }
    }
    if (!message.empty()) message.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(message.front())));
    std::string line = isolab::printable(message, isolab::kMaxErrorMessageBytes);
    std::fprintf(stderr, "isolab: %s (run '%s --help' for the usage)\n", line.c_str(), path.c_str());
    return usage_exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"isolab: containers and virtual machines from the same image, side by side"};
    app.set_version_flag("--version", ISOLAB_VERSION);
    app.require_subcommand(1);

    std::string log_level = "warn";
    app.add_option("--log-level", log_level, "Log verbosity: trace, debug, info, warn, error or off")
        ->capture_default_str();

    isolab::cli::Context context;
    isolab::cli::register_image_commands(app, context);
    isolab::cli::register_build_commands(app, context);
    isolab::cli::register_container_commands(app, context);
    isolab::cli::register_exec_commands(app, context);
    isolab::cli::register_volume_commands(app, context);
    isolab::cli::register_network_commands(app, context);
    isolab::cli::register_lifecycle_commands(app, context);
    isolab::cli::register_vm_commands(app, context);
    isolab::cli::register_bench_commands(app, context);
    isolab::cli::register_lesson_commands(app, context);
    isolab::cli::register_system_commands(app, context);
    isolab::cli::register_compose_commands(app, context);
    isolab::cli::register_oci_commands(app, context);

    // Logging must be ready before any subcommand callback runs.
    app.parse_complete_callback([&] {
        isolab::log::init(log_level);
        context.paths.check();
    });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return report_parse_error(app, error, std::vector<std::string>(argv + 1, argv + argc));
    } catch (const isolab::Error& error) {
        std::fprintf(stderr, "isolab: %s\n", isolab::error_line(error).c_str());
        return error.exit_code();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "isolab: %s\n", isolab::printable(error.what(), isolab::kMaxErrorMessageBytes).c_str());
        return 125;
    }
    return context.exit_code;
}
