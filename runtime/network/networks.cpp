#include "runtime/network/networks.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/text.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/connections.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace {

Error network_not_found(const std::string& name) {
    return Error("network " + name + " not found", "list networks with 'isolab network ls'", target_error_exit_code);
}

void validate_network_name(const std::string& name) {
    if (name.size() > kMaxNetworkNameLength || !is_object_name(name)) {
        throw Error("invalid network name '" + name + "'",
                    "use letters, digits, '_', '.' and '-', starting with a letter or digit");
    }
    if (name == default_network || name == "default" || name == "host" || name == "none") {
        throw Error("network name '" + name + "' is reserved", "choose another name");
    }
}

// Checks a --subnet value and returns it in canonical form ("10.90.0.0/24").
std::string checked_subnet(const std::string& text, const IpamState& state) {
    auto subnet = parse_ipv4(text);
    if (subnet.prefix < 8 || subnet.prefix > 29) {
        throw Error("invalid --subnet " + text + ": the prefix length must be 8 to 29", "e.g. --subnet 10.90.0.0/24");
    }
    std::uint32_t mask = ~0U << (32 - subnet.prefix);
    auto canonical = to_string(subnet.value & mask) + "/" + std::to_string(subnet.prefix);
    if ((subnet.value & mask) != subnet.value) {
        throw Error("invalid --subnet " + text + ": host bits are set", "use " + canonical);
    }

    // Ranges that the host routes by itself or that hold no unicast addresses. A bridge
    // with an address in one would take that range from lo, link-local or multicast routing.
    struct ReservedRange {
        const char* cidr;
        const char* what;
    };
    for (const auto& reserved : {ReservedRange{"0.0.0.0/8", "'this network'"}, ReservedRange{"127.0.0.0/8", "loopback"},
                                 ReservedRange{"169.254.0.0/16", "link-local"},
                                 ReservedRange{"224.0.0.0/4", "multicast"}, ReservedRange{"240.0.0.0/4", "reserved"}}) {
        auto range = parse_ipv4(reserved.cidr);
        int prefix = std::min(range.prefix, subnet.prefix);
        std::uint32_t common = ~0U << (32 - prefix);
        if ((range.value & common) == (subnet.value & common)) {
            throw Error("invalid --subnet " + text + ": it overlaps the " + reserved.what + " range " + reserved.cidr,
                        "choose a private range, e.g. in 10.89.0.0/16");
        }
    }
    for (const auto& [name, network] : state.networks) {
        if (network.subnet.empty()) continue;
        auto other = parse_ipv4(network.subnet);
        int prefix = std::min(other.prefix, subnet.prefix);
        std::uint32_t common = ~0U << (32 - prefix);
        if ((other.value & common) == (subnet.value & common)) {
            throw Error("subnet " + canonical + " overlaps network " + name + " (" + network.subnet + ")", "choose another subnet");
        }
    }
    if (subnet_in_use(canonical)) {
        throw Error("subnet " + canonical + " overlaps a route of this host", "choose another subnet, e.g. in 10.89.0.0/16");
    }
    return canonical;
}

// A bridge name of 15 characters at most, as the kernel allows.
std::string bridge_name_for(const std::string& id) { return "isolab-" + id.substr(0, 8); }

NetworkRecord default_record() {
    NetworkRecord network;
    network.name = default_network;
    return network;
}

}  // namespace

NetworkRecord create_network(const Paths& paths, const std::string& name, const std::string& subnet,
                             const std::map<std::string, std::string>& labels) {
    validate_network_name(name);
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    if (state.networks.count(name)) throw Error("network " + name + " already exists", "remove it first with 'isolab network rm " + name + "'",
                                                   target_error_exit_code);

    NetworkRecord network;
    network.name = name;
    network.user_defined = true;
    network.created = container::rfc3339_now();
    network.labels = labels;
    // The subnet of the default network stays recorded while its bridge is down.
    std::vector<std::string> taken;
    for (const auto& [other_name, other] : state.networks) taken.push_back(other.subnet);
    network.subnet = subnet.empty() ? choose_subnet("10.89.1.0/24", taken) : checked_subnet(subnet, state);
    network.gateway = to_string(parse_ipv4(network.subnet).value + 1);
    network.id = random_hex_id();
    network.bridge = bridge_name_for(network.id);
    ensure_bridge(paths, network);
    state.networks[name] = network;
    try {
        save_ipam(paths, state);
    } catch (...) {
        remove_bridge(paths, network);
        throw;
    }
    spdlog::debug("net: created network {} on {} ({})", name, network.bridge, network.subnet);
    return network;
}

std::vector<NetworkRecord> list_networks(const Paths& paths) {
    auto state = load_ipam(paths);
    std::vector<NetworkRecord> networks;
    networks.push_back(state.networks.count(default_network) ? state.networks.at(default_network) : default_record());
    for (const auto& [name, network] : state.networks) {
        if (name != default_network) networks.push_back(network);
    }
    return networks;
}

std::string networks_table(const std::vector<NetworkRecord>& networks, bool quiet) {
    std::string table = quiet ? "" : fmt::format("{:<20} {:<8} {:<16} {:<18} {}\n", "NAME", "DRIVER", "BRIDGE", "SUBNET", "CONTAINERS");
    for (const auto& network : networks) {
        if (quiet) {
            table += network.name + "\n";
            continue;
        }
        table += fmt::format("{:<20} {:<8} {:<16} {:<18} {}\n", network.name, "bridge", network.bridge.empty() ? "-" : network.bridge,
                             network.subnet.empty() ? "-" : network.subnet, network.leases.size());
    }
    return table;
}

std::string network_id(const Paths& paths, const NetworkRecord& network) {
    if (!network.id.empty()) return network.id;
    return sha256_digest(owner_alias(paths) + "\n" + network.name).substr(7);
}

nlohmann::json inspect_network(const Paths& paths, const std::string& name) {
    auto state = load_ipam(paths);
    auto network = default_record();
    auto wanted = network_name(name);
    auto found = state.networks.find(wanted);
    if (found != state.networks.end()) {
        network = found->second;
    } else if (wanted != default_network) {
        // As Docker does, a unique prefix of the id names a network too.
        std::vector<const NetworkRecord*> matches;
        for (const auto& [other_name, other] : state.networks) {
            if (name.size() >= 3 && network_id(paths, other).rfind(name, 0) == 0) matches.push_back(&other);
        }
        if (matches.size() != 1) throw network_not_found(name);
        network = *matches.front();
    }

    int prefix = network.subnet.empty() ? 0 : parse_ipv4(network.subnet).prefix;
    nlohmann::json containers = nlohmann::json::object();
    for (const auto& [id, lease] : network.leases) {
        containers[id] = {{"Name", lease.name},
                          {"EndpointID", sha256_digest(network_id(paths, network) + "\n" + id).substr(7)},
                          {"MacAddress", lease.mac_address},
                          {"IPv4Address", lease.address + "/" + std::to_string(prefix)},
                          {"IPv6Address", ""}};
    }
    nlohmann::json config = nlohmann::json::array();
    if (!network.subnet.empty()) config.push_back({{"Subnet", network.subnet}, {"Gateway", network.gateway}});
    return {{"Name", network.name},
            {"Id", network_id(paths, network)},
            {"Created", network.created},
            {"Scope", "local"},
            {"Driver", "bridge"},
            {"EnableIPv6", false},
            {"IPAM", {{"Driver", "default"}, {"Options", nlohmann::json::object()}, {"Config", config}}},
            {"Internal", false},
            {"Attachable", false},
            {"Ingress", false},
            {"ConfigFrom", {{"Network", ""}}},
            {"ConfigOnly", false},
            {"Containers", containers},
            {"Options", {{"com.docker.network.bridge.name", network.bridge}}},
            {"Labels", network.labels}};
}

void remove_network(const Paths& paths, const std::string& name) {
    if (network_name(name) == default_network) throw Error("the default network " + name + " cannot be removed", {}, target_error_exit_code);
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    drop_stale_leases(paths, state);
    auto found = state.networks.find(name);
    if (found == state.networks.end()) throw network_not_found(name);
    if (!found->second.leases.empty()) {
        std::string names;
        for (const auto& [id, lease] : found->second.leases) names += (names.empty() ? "" : ", ") + lease.name;
        throw Error("network " + name + " is used by container " + names, "stop or remove those containers first", target_error_exit_code);
    }
    remove_bridge(paths, found->second);
    state.networks.erase(found);
    save_ipam(paths, state);
}

void connect_container(const Paths& paths, const std::string& name, const std::string& container,
                       const std::vector<std::string>& aliases) {
    check_network_aliases(name, aliases);
    auto stored = container::require_container(paths, container);
    auto state_now = container::observed_state(stored);
    const auto& id = stored.config.id;

    IpamLock lock(paths);
    auto state = load_ipam(paths);
    drop_stale_leases(paths, state);
    auto found = state.networks.find(name);
    if (found == state.networks.end() || !found->second.user_defined) throw network_not_found(name);
    auto& network = found->second;
    auto recorded = connected_networks(stored.paths.directory);
    auto recorded_here = [&](const ConnectedNetwork& entry) { return entry.name == name; };
    bool on_network = network.leases.count(id) > 0 || stored.config.request.network == name ||
                      std::any_of(recorded.begin(), recorded.end(), recorded_here);
    if (on_network) {
        throw Error("container " + stored.config.name + " is already on network " + name, {}, target_error_exit_code);
    }
    // As Docker does, a container that does not run is only recorded, and its next start
    // connects it.
    if (state_now.status == "running" && state_now.pid > 0) {
        NetworkMember member{id,
                             stored.config.name,
                             stored.config.hostname,
                             state_now.pid,
                             state_now.pid_start_ticks,
                             state_now.monitor_pid,
                             state_now.monitor_start_ticks};
        join_network(paths, state, network, member, aliases);
        refresh_hosts_files(paths, network);
    }
    recorded.push_back({name, aliases});
    save_connected_networks(stored.paths.directory, recorded);
}

void disconnect_container(const Paths& paths, const std::string& name, const std::string& container) {
    auto stored = container::require_container(paths, container);
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    auto found = state.networks.find(name);
    if (found == state.networks.end()) throw network_not_found(name);
    auto recorded = connected_networks(stored.paths.directory);
    auto entry = std::find_if(recorded.begin(), recorded.end(), [&](const ConnectedNetwork& connected) { return connected.name == name; });
    auto lease = found->second.leases.find(stored.config.id);
    bool leased = lease != found->second.leases.end() && lease->second.kind == LeaseKind::connected;
    if (entry == recorded.end() && !leased) {
        throw Error("container " + stored.config.name + " is not connected to network " + name + " by 'network connect'",
                    "a container started with --network leaves it when it stops", target_error_exit_code);
    }
    if (leased) {
        delete_device(lease->second.device);
        found->second.leases.erase(lease);
        save_ipam(paths, state);
        refresh_hosts_files(paths, found->second);
    }
    if (entry != recorded.end()) {
        recorded.erase(entry);
        save_connected_networks(stored.paths.directory, recorded);
    }
}

std::vector<std::string> prune_networks(const Paths& paths) {
    // As Docker counts them, a stopped container that names a network uses it too.
    std::set<std::string> referenced;
    for (const auto& container : container::list_containers(paths)) {
        if (uses_bridge(container.config.request.network)) referenced.insert(network_name(container.config.request.network));
        for (auto& connected : connected_networks(container.paths.directory)) referenced.insert(std::move(connected.name));
    }

    std::vector<std::string> removed;
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    drop_stale_leases(paths, state);
    for (auto network = state.networks.begin(); network != state.networks.end();) {
        if (!network->second.user_defined || !network->second.leases.empty() || referenced.count(network->first)) {
            ++network;
            continue;
        }
        remove_bridge(paths, network->second);
        removed.push_back(network->first);
        network = state.networks.erase(network);
    }
    save_ipam(paths, state);
    return removed;
}

}  // namespace isolab::network
