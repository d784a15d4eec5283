#include "runtime/network/connections.hpp"

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace fs = std::filesystem;

namespace {

fs::path record_path(const fs::path& container_directory) { return container_directory / "networks.json"; }

}  // namespace

std::vector<ConnectedNetwork> connected_networks(const fs::path& container_directory) {
    auto path = record_path(container_directory);
    if (!fs::exists(path)) return {};
    auto invalid = [&] { return Error("invalid " + path.string(), "remove the file and connect the networks again"); };
    auto json = nlohmann::json::parse(read_file(path), nullptr, false);
    if (json.is_discarded() || !json.is_array()) throw invalid();

    std::vector<ConnectedNetwork> networks;
    for (const auto& entry : json) {
        if (!entry.is_object() || !entry.contains("Name") || !entry.at("Name").is_string()) throw invalid();
        ConnectedNetwork network{entry.at("Name").get<std::string>(), {}};
        if (entry.contains("Aliases")) {
            const auto& aliases = entry.at("Aliases");
            if (!aliases.is_array()) throw invalid();
            for (const auto& alias : aliases) {
                if (!alias.is_string()) throw invalid();
                network.aliases.push_back(alias.get<std::string>());
            }
        }
        networks.push_back(std::move(network));
    }
    return networks;
}

void save_connected_networks(const fs::path& container_directory, const std::vector<ConnectedNetwork>& networks) {
    auto json = nlohmann::json::array();
    for (const auto& network : networks) json.push_back({{"Name", network.name}, {"Aliases", network.aliases}});
    write_file_atomic(record_path(container_directory), json.dump() + "\n");
}

void join_network(const Paths& paths, IpamState& state, NetworkRecord& network, const NetworkMember& member,
                  const std::vector<std::string>& aliases) {
    int interfaces = 0;
    for (const auto& [other_name, other] : state.networks) {
        if (&other != &network) interfaces += static_cast<int>(other.leases.count(member.id));
    }
    ensure_bridge(paths, network);

    Lease lease;
    lease.address = allocate_address(network);
    // "isolab", 8 digits of the id and a letter after f fill the 15 characters, so the
    // name never equals that of the first veth, which ends in a ninth hex digit.
    lease.device = "isolab" + member.id.substr(0, 8) + static_cast<char>('g' + interfaces % 20);
    lease.kind = LeaseKind::connected;
    lease.mac_address = container_mac_address(parse_ipv4(lease.address).value);
    // The container's owner keeps the lease in use, as it keeps the first one.
    lease.owner_pid = member.owner_pid;
    lease.owner_start_ticks = member.owner_start_ticks;
    lease.pid = member.pid;
    lease.pid_start_ticks = member.pid_start_ticks;
    lease.name = member.name;
    lease.hostname = member.hostname;
    lease.aliases = aliases;

    auto interface = "eth" + std::to_string(interfaces);
    delete_device(lease.device);
    create_veth(lease.device, network.bridge, member.pid, interface);
    try {
        configure_container_interface(member.pid, {parse_ipv4(lease.address).value, parse_ipv4(network.subnet).prefix},
                                      parse_ipv4(network.gateway).value, interface, false);
        network.leases[member.id] = lease;
        save_ipam(paths, state);
    } catch (...) {
        network.leases.erase(member.id);
        delete_device(lease.device);
        throw;
    }
}

std::vector<std::string> rejoin_connected_networks(const Paths& paths, const NetworkMember& member,
                                                   const fs::path& container_directory) {
    std::vector<std::string> joined;
    auto connected = connected_networks(container_directory);
    if (connected.empty()) return joined;

    IpamLock lock(paths);
    auto state = load_ipam(paths);
    drop_stale_leases(paths, state);
    for (const auto& [name, aliases] : connected) {
        auto found = state.networks.find(name);
        // NOTE: Docker fails the start when a connected network is gone, but isolab
        // starts the container without it.
        if (found == state.networks.end() || !found->second.user_defined) {
            spdlog::warn("net: container {} not connected to network {} again: the network is gone", member.id, name);
            continue;
        }
        auto& network = found->second;
        // A lease of an earlier run that the restart policy ended is replaced.
        auto earlier = network.leases.find(member.id);
        if (earlier != network.leases.end()) {
            delete_device(earlier->second.device);
            network.leases.erase(earlier);
        }
        try {
            join_network(paths, state, network, member, aliases);
            refresh_hosts_files(paths, network);
            joined.push_back(name);
        } catch (const Error& error) {
            spdlog::warn("net: container {} not connected to network {} again: {}", member.id, name, error.one_line());
        }
    }
    return joined;
}

void leave_connected_networks(const Paths& paths, const std::string& id) {
    if (!fs::exists(ipam_directory(paths) / "ipam.json")) return;
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    bool changed = false;
    for (auto& [name, network] : state.networks) {
        auto lease = network.leases.find(id);
        if (lease == network.leases.end() || lease->second.kind != LeaseKind::connected) continue;
        delete_device(lease->second.device);
        network.leases.erase(lease);
        refresh_hosts_files(paths, network);
        changed = true;
    }
    if (changed) save_ipam(paths, state);
}

}  // namespace isolab::network
