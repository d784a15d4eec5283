// Volume commands: volume create, ls, inspect, rm, prune.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/confirm.hpp"
#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::cli {

namespace {

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& labels) {
    std::map<std::string, std::string> parsed;
    for (const auto& label : labels) {
        auto equals = label.find('=');
        auto key = label.substr(0, equals);
        if (key.empty()) throw Error("invalid --label '" + label + "': the key is empty", "use --label KEY=VALUE");
        parsed[key] = equals == std::string::npos ? "" : label.substr(equals + 1);
    }
    return parsed;
}

void print_error(Context& context, const Error& error) {
    std::fprintf(stderr, "isolab: %s\n", error_line(error).c_str());
    context.exit_code = 1;
}

void register_create(CLI::App& volume, Context& context) {
    auto name = std::make_shared<std::string>();
    auto labels = std::make_shared<std::vector<std::string>>();
    auto* create = volume.add_subcommand("create", "Create a volume (a random name when NAME is left out)");
    create->add_option("name", *name, "Volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]+");
    create->add_option("--label", *labels, "Set a label KEY=VALUE (repeatable)")->allow_extra_args(false);
    create->callback([name, labels, &context] {
        auto created = volume::create_volume(context.paths, *name, parse_labels(*labels));
        std::printf("%s\n", created.name.c_str());
    });
}

void register_ls(CLI::App& volume, Context& context) {
    auto quiet = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>("table");
    auto filters = std::make_shared<std::vector<std::string>>();
    auto* ls = volume.add_subcommand("ls", "List volumes");
    ls->alias("list");
    ls->add_flag("-q,--quiet", *quiet, "Show only the names");
    ls->add_option("-f,--filter", *filters, "Keep only dangling=true|false, name=TEXT or label=KEY[=VALUE] (repeatable)")
        ->allow_extra_args(false);
    ls->add_option("--format", *format, "Output format: table, or json for one JSON object per line")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    ls->callback([quiet, format, filters, &context] {
        auto volumes = volume::filter_volumes(context.paths, volume::list_volumes(context.paths), *filters);
        auto text = *format == "json" ? volume::volumes_json_lines(volumes) : volume::volumes_table(volumes, *quiet);
        std::fputs(text.c_str(), stdout);
    });
}

void register_inspect(CLI::App& volume, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* inspect = volume.add_subcommand("inspect", "Show volumes as JSON");
    inspect->add_option("name", *names, "Volume names")->required();
    inspect->callback([names, &context] {
        auto documents = nlohmann::json::array();
        for (const auto& name : *names) {
            if (auto found = volume::find_volume(context.paths, name)) {
                documents.push_back(volume::inspect_json(*found));
            } else {
                print_error(context, Error("no such volume: " + name, "list them with 'isolab volume ls'"));
            }
        }
        std::printf("%s\n", documents.dump(4).c_str());
    });
}

void register_rm(CLI::App& volume, Context& context) {
    auto force = std::make_shared<bool>(false);
    auto names = std::make_shared<std::vector<std::string>>();
    auto* rm = volume.add_subcommand("rm", "Remove volumes that no container uses");
    rm->alias("remove");
    rm->add_flag("-f,--force", *force, "Do not fail for a volume that does not exist");
    rm->add_option("name", *names, "Volume names")->required();
    rm->callback([force, names, &context] {
        for (const auto& name : *names) {
            try {
                volume::remove_volume(context.paths, name, *force);
                std::printf("%s\n", name.c_str());
            } catch (const Error& error) {
                print_error(context, error);
            }
        }
    });
}

bool confirm(const char* warning) {
    std::printf("%s\n", warning);
    return confirm_continue("volume prune");
}

void register_prune(CLI::App& volume, Context& context) {
    auto force = std::make_shared<bool>(false);
    auto all = std::make_shared<bool>(false);
    auto* prune = volume.add_subcommand("prune", "Remove anonymous volumes no container uses (all unused ones with -a)");
    prune->add_flag("-f,--force", *force, "Do not ask for confirmation");
    prune->add_flag("-a,--all", *all, "Remove unused named volumes too");
    prune->callback([force, all, &context] {
        auto warning = *all ? "WARNING! This will remove all local volumes not used by at least one container."
                            : "WARNING! This will remove anonymous local volumes not used by at least one container.";
        if (!*force && !confirm(warning)) return;
        auto result = volume::prune_volumes(context.paths, *all);
        if (!result.names.empty()) {
            std::printf("Deleted Volumes:\n");
            for (const auto& name : result.names) std::printf("%s\n", name.c_str());
            std::printf("\n");
        }
        std::printf("Total reclaimed space: %s\n", human_size(result.reclaimed_bytes).c_str());
    });
}

}  // namespace

void register_volume_commands(CLI::App& app, Context& context) {
    auto* volume = app.add_subcommand("volume", "Manage volumes: data that outlives containers");
    volume->require_subcommand(1);
    register_create(*volume, context);
    register_ls(*volume, context);
    register_inspect(*volume, context);
    register_rm(*volume, context);
    register_prune(*volume, context);
}

}  // namespace isolab::cli
