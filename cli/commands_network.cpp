// Network commands: network create, ls, inspect, rm, connect, disconnect, prune.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/confirm.hpp"
#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/network/networks.hpp"

namespace isolab::cli {

namespace {

void register_create(CLI::App& network, Context& context) {
    auto name = std::make_shared<std::string>();
    auto subnet = std::make_shared<std::string>();
    auto* create = network.add_subcommand("create", "Create a bridge network whose containers resolve each other by name");
    create->add_option("name", *name, "Network name: [a-zA-Z0-9][a-zA-Z0-9_.-]*")->required();
    create->add_option("--subnet", *subnet, "Subnet in CIDR form, e.g. 10.90.0.0/24 (default: a free /24 of 10.89.0.0/16)");
    create->callback([name, subnet, &context] {
        auto created = network::create_network(context.paths, *name, *subnet);
        std::printf("%s\n", created.name.c_str());
    });
}

void register_ls(CLI::App& network, Context& context) {
    auto quiet = std::make_shared<bool>(false);
    auto* ls = network.add_subcommand("ls", "List networks");
    ls->alias("list");
    ls->add_flag("-q,--quiet", *quiet, "Show only the names");
    ls->callback([quiet, &context] {
        std::fputs(network::networks_table(network::list_networks(context.paths), *quiet).c_str(), stdout);
    });
}

void register_inspect(CLI::App& network, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* inspect = network.add_subcommand("inspect", "Show networks as JSON");
    inspect->add_option("name", *names, "Network names")->required();
    inspect->callback([names, &context] {
        auto documents = nlohmann::json::array();
        for (const auto& name : *names) {
            try {
                documents.push_back(network::inspect_network(context.paths, name));
            } catch (const Error& error) {
                context.report(error);
            }
        }
        std::printf("%s\n", documents.dump(4).c_str());
    });
}

void register_rm(CLI::App& network, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* rm = network.add_subcommand("rm", "Remove networks that no container uses");
    rm->alias("remove");
    rm->add_option("name", *names, "Network names")->required();
    rm->callback([names, &context] {
        for (const auto& name : *names) {
            try {
                network::remove_network(context.paths, name);
                std::printf("%s\n", name.c_str());
            } catch (const Error& error) {
                context.report(error);
            }
        }
    });
}

void register_connect(CLI::App& network, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto aliases = std::make_shared<std::vector<std::string>>();
    auto* connect = network.add_subcommand("connect", "Connect a container to a user-defined network, now if it runs and at each later start");
    connect->add_option("--alias", *aliases, "Another name the other containers on the network resolve (repeatable)")
        ->allow_extra_args(false);
    connect->add_option("names", *names, "NETWORK CONTAINER")->required()->expected(2);
    connect->callback([names, aliases, &context] {
        network::connect_container(context.paths, (*names)[0], (*names)[1], *aliases);
    });

    auto disconnect_names = std::make_shared<std::vector<std::string>>();
    auto* disconnect = network.add_subcommand("disconnect", "Disconnect a container that 'network connect' connected");
    disconnect->add_option("names", *disconnect_names, "NETWORK CONTAINER")->required()->expected(2);
    disconnect->callback([disconnect_names, &context] {
        network::disconnect_container(context.paths, (*disconnect_names)[0], (*disconnect_names)[1]);
    });
}

void register_prune(CLI::App& network, Context& context) {
    auto force = std::make_shared<bool>(false);
    auto* prune = network.add_subcommand("prune", "Remove user-defined networks that no container uses");
    prune->add_flag("-f,--force", *force, "Do not ask for confirmation");
    prune->callback([force, &context] {
        if (!*force) {
            std::printf("WARNING! This will remove all custom networks not used by at least one container.\n");
            if (!confirm_continue("network prune")) return;
        }
        auto removed = network::prune_networks(context.paths);
        if (!removed.empty()) std::printf("Deleted Networks:\n");
        for (const auto& name : removed) std::printf("%s\n", name.c_str());
    });
}

}  // namespace

void register_network_commands(CLI::App& app, Context& context) {
    auto* network = app.add_subcommand("network", "Manage bridge networks");
    network->require_subcommand(1);
    register_create(*network, context);
    register_ls(*network, context);
    register_inspect(*network, context);
    register_rm(*network, context);
    register_connect(*network, context);
    register_prune(*network, context);
}

}  // namespace isolab::cli
