#include "runtime/network/attachment.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/connections.hpp"
#include "runtime/network/firewall.hpp"
#include "runtime/network/ipam.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace fs = std::filesystem;

std::string port_holder(const Paths& paths, const IpamState& state, const PortMapping& taken) {
    auto port = ":" + std::to_string(taken.host_port) + "->";
    auto protocol = "/" + taken.protocol;
    for (const auto& [name, network] : state.networks) {
        for (const auto& [id, lease] : network.leases) {
            for (const auto& published : lease.ports) {
                if (published.find(port) == std::string::npos || !published.ends_with(protocol)) continue;
                auto container = container::find_container(paths, id);
                if (container) return container->config.name;
                return lease.name.empty() ? id.substr(0, 12) : lease.name;
            }
        }
    }
    return {};
}

namespace {

bool loopback_nameserver(const std::string& address) {
    return address.rfind("127.", 0) == 0 || address == "::1";
}

}  // namespace

// A loopback nameserver would name the container's own lo, where nothing answers.
std::string container_resolv_conf(const std::string& host_text) {
    std::istringstream lines(host_text);
    std::string line;
    std::string kept;
    bool has_nameserver = false;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string keyword, value;
        words >> keyword >> value;
        if (keyword == "nameserver") {
            if (loopback_nameserver(value)) continue;
            has_nameserver = true;
        }
        kept += line + "\n";
    }
    if (!has_nameserver) kept += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    return kept;
}

std::string bridge_resolv_conf() {
    std::string host_text;
    try {
        host_text = read_file("/etc/resolv.conf");
    } catch (const Error& error) {
        spdlog::debug("net: {}", error.what());
    }
    return container_resolv_conf(host_text);
}

bool uses_bridge(const std::string& mode) { return !mode.empty() && mode != "none" && mode != "host"; }

void check_network_aliases(const std::string& mode, const std::vector<std::string>& aliases) {
    if (aliases.empty()) return;
    if (!uses_bridge(mode) || network_name(mode) == default_network) {
        throw Error("network-scoped alias is supported only for containers in user-defined networks, and " +
                        (mode.empty() ? std::string("none") : mode) + " is not one",
                    "create one with 'isolab network create NAME' and use it instead");
    }
    for (const auto& alias : aliases) {
        bool blank = std::any_of(alias.begin(), alias.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
        if (alias.empty() || blank) {
            throw Error("invalid network alias '" + alias + "': it must be a non-empty name without whitespace", "e.g. --network-alias db");
        }
    }
}

ContainerNetwork::ContainerNetwork(const Paths& paths, const std::string& mode, const std::string& id,
                                   const std::string& name, const std::string& hostname, const fs::path& container_directory,
                                   std::vector<PortMapping> ports, std::vector<std::string> aliases)
    : paths_(paths), network_(network_name(mode)), id_(id), name_(name), hostname_(hostname), device_(veth_name(id)),
      directory_(container_directory) {
    IpamLock lock(paths_);
    auto state = load_ipam(paths_);
    drop_stale_leases(paths_, state);
    if (network_ != default_network && !state.networks.count(network_)) {
        throw Error("network " + network_ + " not found", "create it with 'isolab network create " + network_ + "'");
    }
    std::vector<std::string> other_subnets;
    for (const auto& [name_of_other, other] : state.networks) {
        if (name_of_other != network_) other_subnets.push_back(other.subnet);
    }
    auto& network = state.networks[network_];
    network.name = network_;
    if (network.created.empty()) network.created = container::rfc3339_now();
    ensure_bridge(paths_, network, other_subnets);
    try {
        if (!ports.empty()) {
            proxy_ = std::make_unique<PortProxy>(std::move(ports), [&](const PortMapping& taken) { return port_holder(paths_, state, taken); });
        }
        address_ = allocate_address(network);
        Lease lease;
        lease.address = address_;
        lease.device = device_;
        lease.kind = LeaseKind::container;
        lease.mac_address = container_mac_address(parse_ipv4(address_).value);
        lease.owner_pid = getpid();
        lease.owner_start_ticks = container::process_start_ticks(getpid());
        lease.name = name;
        lease.hostname = hostname;
        lease.aliases = std::move(aliases);
        if (proxy_) {
            for (const auto& mapping : proxy_->mappings()) lease.ports.push_back(describe(mapping));
        }
        network.leases[id_] = lease;

        write_file_atomic(directory_ / "hosts", hosts_file(network, id_));
        write_file_atomic(directory_ / "hostname", hostname + "\n");
        write_file_atomic(directory_ / "resolv.conf", bridge_resolv_conf());
        save_ipam(paths_, state);
        refresh_hosts_files(paths_, network);
    } catch (...) {
        proxy_.reset();
        network.leases.erase(id_);
        remove_bridge_if_unused(paths_, network);
        throw;
    }
    spdlog::debug("net: container {} has {} on {} ({})", id_, address_, network.bridge, network_);
}

ContainerNetwork::~ContainerNetwork() {
    proxy_.reset();
    try {
        leave_connected_networks(paths_, id_);
    } catch (const std::exception& error) {
        spdlog::warn("net: cannot release the connected networks of container {}: {}", id_, error.what());
    }
    try {
        IpamLock lock(paths_);
        auto state = load_ipam(paths_);
        delete_device(device_);
        auto found = state.networks.find(network_);
        if (found != state.networks.end()) {
            found->second.leases.erase(id_);
            remove_bridge_if_unused(paths_, found->second);
            refresh_hosts_files(paths_, found->second);
        }
        save_ipam(paths_, state);
        spdlog::debug("net: container {} released {}", id_, address_);
    } catch (const std::exception& error) {
        spdlog::warn("net: cannot release the address of container {}: {}", id_, error.what());
    }
}

std::vector<container::ContainerMount> ContainerNetwork::etc_mounts() const {
    std::vector<container::ContainerMount> mounts;
    for (const char* name : {"hosts", "hostname", "resolv.conf"}) {
        container::ContainerMount mount;
        mount.type = container::MountType::bind;
        mount.source = directory_ / name;
        mount.destination = std::string("/etc/") + name;
        mount.propagation = "rprivate";
        mounts.push_back(std::move(mount));
    }
    return mounts;
}

void ContainerNetwork::connect(pid_t pid) {
    NetworkRecord network;
    {
        IpamLock lock(paths_);
        auto state = load_ipam(paths_);
        network = state.networks.at(network_);
        auto& lease = state.networks.at(network_).leases.at(id_);
        lease.pid = pid;
        lease.pid_start_ticks = container::process_start_ticks(pid);
        save_ipam(paths_, state);
    }
    // A device of that name is left from an earlier container whose id starts alike.
    delete_device(device_);
    create_veth(device_, network.bridge, pid);
    auto subnet = parse_ipv4(network.subnet);
    configure_container_interface(pid, {parse_ipv4(address_).value, subnet.prefix}, parse_ipv4(network.gateway).value);
    if (proxy_) proxy_->start(address_);

    NetworkMember member{id_, name_, hostname_, pid, container::process_start_ticks(pid), getpid(),
                         container::process_start_ticks(getpid())};
    rejoin_connected_networks(paths_, member, directory_);
}

std::vector<PortMapping> requested_ports(const container::RunOptions& request, const std::vector<std::string>& exposed_ports) {
    std::vector<PortMapping> ports;
    for (const auto& text : request.publish) ports.push_back(parse_port_mapping(text));
    if (request.publish_all) {
        for (auto& mapping : publish_all_mappings(exposed_ports)) ports.push_back(std::move(mapping));
    }
    return ports;
}

std::unique_ptr<ContainerNetwork> attach_network(const Paths& paths, const container::RunOptions& request,
                                                 const std::vector<std::string>& exposed_ports, const std::string& id,
                                                 const std::string& name, const std::string& hostname,
                                                 const fs::path& container_directory) {
    if (!uses_bridge(request.network)) return nullptr;
    return std::make_unique<ContainerNetwork>(paths, request.network, id, name, hostname, container_directory,
                                              requested_ports(request, exposed_ports), request.network_aliases);
}

std::vector<std::string> release_stale_leases(const Paths& paths) {
    if (!fs::exists(ipam_directory(paths) / "ipam.json")) return {};
    IpamLock lock(paths);
    auto state = load_ipam(paths);
    auto released = drop_stale_leases(paths, state);
    if (!released.empty()) save_ipam(paths, state);
    return released;
}

NetworkLeftovers prune_network_leftovers(const Paths& paths) {
    NetworkLeftovers removed;
    removed.leases = release_stale_leases(paths);

    IpamLock lock(paths);
    HostNetworkLock host_lock;
    auto state = load_ipam(paths);
    auto alias = owner_alias(paths);
    auto links = list_links();
    std::vector<std::string> pruned_bridges;
    for (const auto& link : links) {
        if (link.type != "bridge" || link.name.rfind("isolab", 0) != 0 || !is_owner_alias(link.alias)) continue;
        bool in_use = false;
        for (const auto& [name, network] : state.networks) {
            in_use = in_use || (network.bridge == link.name && (network.user_defined || !network.leases.empty()));
        }
        bool ours = link.alias == alias;
        if ((ours && in_use) || (!ours && fs::exists(alias_root(link.alias)))) continue;
        try {
            delete_link(link.name);
            removed.bridges.push_back(link.name);
        } catch (const Error& error) {
            spdlog::warn("prune: {}", error.one_line());
        }
    }
    // Veth ends that lost their bridge serve no container any more.
    for (const auto& link : list_links()) {
        if (link.type == "veth" && link.name.rfind("isolab", 0) == 0 && link.master == 0) delete_device(link.name);
    }
    removed.rules = prune_stale_rules();
    return removed;
}

nlohmann::json network_settings(const Paths& paths, const std::string& id, const std::vector<std::string>& exposed_ports) {
    nlohmann::json settings = {{"Bridge", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0}, {"Gateway", ""},
                               {"Networks", nlohmann::json::object()},
                               {"Ports", nlohmann::json::object()}};
    IpamState state;
    try {
        state = load_ipam(paths);
    } catch (const Error& error) {
        spdlog::warn("inspect: {}", error.one_line());
        return settings;
    }
    for (const auto& [name, network] : state.networks) {
        auto lease = network.leases.find(id);
        if (lease == network.leases.end()) continue;
        int prefix = parse_ipv4(network.subnet).prefix;
        settings["Networks"][name] = {{"IPAddress", lease->second.address}, {"IPPrefixLen", prefix},
                                      {"Gateway", network.gateway}};
        // The top-level fields describe the network the container or VM started on, not
        // one that `network connect` added.
        if (lease->second.kind == LeaseKind::connected) continue;
        settings["Bridge"] = network.bridge;
        settings["IPAddress"] = lease->second.address;
        settings["IPPrefixLen"] = prefix;
        settings["Gateway"] = network.gateway;
        // Docker lists the ports of a container only while it has an address.
        for (const auto& exposed : exposed_ports) settings["Ports"][port_key(parse_port_mapping(exposed))] = nullptr;
        for (const auto& published : lease->second.ports) {
            auto mapping = parse_description(published);
            auto& bindings = settings["Ports"][port_key(mapping)];
            if (!bindings.is_array()) bindings = nlohmann::json::array();
            bindings.push_back({{"HostIp", mapping.host_ip}, {"HostPort", std::to_string(mapping.host_port)}});
        }
    }
    return settings;
}

std::vector<std::string> published_ports(const Paths& paths, const std::string& id) {
    if (!fs::exists(ipam_directory(paths) / "ipam.json")) return {};
    auto state = load_ipam(paths);
    for (const auto& [name, network] : state.networks) {
        auto lease = network.leases.find(id);
        if (lease != network.leases.end() && lease->second.kind != LeaseKind::connected) return lease->second.ports;
    }
    return {};
}

}  // namespace isolab::network
