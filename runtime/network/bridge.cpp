#include "runtime/network/bridge.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "runtime/container/record.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/firewall.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace fs = std::filesystem;

namespace {

// Docker's default bridge takes 172.17.0.0/16; isolab takes a /24 of its own range, so
// both can run on one host.
constexpr const char* preferred_subnet = "10.89.0.0/24";

// Each bridge carries this alias, so `system prune` finds the bridges of its state root.
constexpr const char* alias_prefix = "isolab:";

std::string link_alias(const std::string& name) {
    for (const auto& link : list_links()) {
        if (link.name == name) return link.alias;
    }
    return {};
}

// The first free name of isolab0 to isolab99.
std::string free_bridge_name() {
    for (int number = 0; number < 100; ++number) {
        auto candidate = "isolab" + std::to_string(number);
        if (!link_exists(candidate)) return candidate;
    }
    throw Error("no free bridge name isolab0 to isolab99", "remove unused bridges with 'isolab system prune'");
}

void create_bridge_with_rules(const Paths& paths, const NetworkRecord& network) {
    auto subnet = parse_ipv4(network.subnet);
    create_bridge(network.bridge, {parse_ipv4(network.gateway).value, subnet.prefix}, owner_alias(paths));
    try {
        add_bridge_rules(network.bridge, network.subnet);
    } catch (...) {
        remove_bridge_rules(network.bridge, network.subnet);
        delete_link(network.bridge);
        throw;
    }
    // Docker turns net.ipv4.ip_forward on for its bridge. isolab leaves that host-wide
    // setting to the administrator: without it containers reach the host and each other,
    // but not other hosts.
    if (!ip_forwarding_enabled()) {
        spdlog::info("net: net.ipv4.ip_forward is 0, so containers on {} reach only this host; "
                     "'sysctl -w net.ipv4.ip_forward=1' lets them reach other hosts", network.bridge);
    }
}

// Writes a bind-mounted file in place: a rename would leave the container with the old inode.
void overwrite_in_place(const fs::path& path, const std::string& content) {
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    [[maybe_unused]] auto written = write(fd, content.data(), content.size());
    close(fd);
}

}  // namespace

IpamLock::IpamLock(const Paths& paths)
    : lock_((fs::create_directories(ipam_directory(paths)), ipam_directory(paths) / "ipam.lock")) {}

// /run/lock is a tmpfs: the lock file goes with a reboot, as the bridges and rules do.
HostNetworkLock::HostNetworkLock()
    : lock_((fs::create_directories("/run/lock"), fs::path("/run/lock/isolab-network.lock"))) {}

std::string owner_alias(const Paths& paths) { return alias_prefix + fs::weakly_canonical(paths.root).string(); }

bool is_owner_alias(const std::string& alias) { return alias.rfind(alias_prefix, 0) == 0; }

std::string alias_root(const std::string& alias) { return alias.substr(std::string(alias_prefix).size()); }

std::string network_name(const std::string& mode) { return mode == "default" ? default_network : mode; }

// "isolab" and 9 digits of the id fill the 15 characters a device name may have.
std::string veth_name(const std::string& id) { return "isolab" + id.substr(0, 9); }

void delete_device(const std::string& device) {
    try {
        if (!device.empty() && link_exists(device)) delete_link(device);
    } catch (const Error& error) {
        spdlog::warn("net: {}", error.one_line());
    }
}

void ensure_bridge(const Paths& paths, NetworkRecord& network, const std::vector<std::string>& taken_subnets) {
    HostNetworkLock host_lock;
    if (!network.bridge.empty() && link_exists(network.bridge) && link_alias(network.bridge) == owner_alias(paths)) {
        add_bridge_rules(network.bridge, network.subnet);
        return;
    }
    // A user-defined network keeps its name and subnet; its bridge was removed by hand.
    if (network.user_defined) {
        create_bridge_with_rules(paths, network);
        return;
    }

    // Another state root may use isolab0 already: take the next free name and subnet.
    network.bridge = free_bridge_name();
    network.subnet = choose_subnet(network.subnet.empty() ? preferred_subnet : network.subnet, taken_subnets);
    network.gateway = to_string(parse_ipv4(network.subnet).value + 1);
    create_bridge_with_rules(paths, network);
}

void remove_bridge(const Paths& paths, const NetworkRecord& network) {
    if (network.bridge.empty()) return;
    HostNetworkLock host_lock;
    remove_bridge_rules(network.bridge, network.subnet);
    try {
        if (link_exists(network.bridge) && link_alias(network.bridge) == owner_alias(paths)) delete_link(network.bridge);
    } catch (const Error& error) {
        spdlog::warn("net: {}", error.one_line());
    }
}

void remove_bridge_if_unused(const Paths& paths, const NetworkRecord& network) {
    if (network.leases.empty() && !network.user_defined) remove_bridge(paths, network);
}

std::vector<std::string> drop_stale_leases(const Paths& paths, IpamState& state) {
    std::vector<std::string> released;
    for (auto& [name, network] : state.networks) {
        bool changed = false;
        for (auto lease = network.leases.begin(); lease != network.leases.end();) {
            if (!lease_stale(lease->second)) {
                ++lease;
                continue;
            }
            delete_device(lease->second.device);
            spdlog::debug("net: released the stale lease of {} on {}", lease->first, name);
            released.push_back(lease->first);
            lease = network.leases.erase(lease);
            changed = true;
        }
        if (!changed) continue;
        remove_bridge_if_unused(paths, network);
        refresh_hosts_files(paths, state, network);
    }
    return released;
}

namespace {

// The lines of `network` in the hosts file of member `id`: its own address and names and,
// on a user-defined network, every other member with its names and aliases.
std::vector<std::string> network_host_lines(const NetworkRecord& network, const std::string& id) {
    std::vector<std::string> lines;
    auto own = network.leases.find(id);
    if (own != network.leases.end()) {
        std::string line = own->second.address + "\t" + own->second.hostname;
        if (network.user_defined) {
            for (const auto& alias : own->second.aliases) line += " " + alias;
        }
        lines.push_back(line);
    }
    // As with Docker, containers resolve each other's names on user-defined networks only.
    if (!network.user_defined) return lines;
    for (const auto& [other_id, lease] : network.leases) {
        if (other_id == id || lease.name.empty()) continue;
        std::string line = lease.address + "\t" + lease.name;
        if (!lease.hostname.empty() && lease.hostname != lease.name) line += " " + lease.hostname;
        for (const auto& alias : lease.aliases) line += " " + alias;
        lines.push_back(line);
    }
    return lines;
}

std::string render_hosts(const std::vector<std::string>& lines) {
    std::string text = "127.0.0.1\tlocalhost\n"
                       "::1\tlocalhost ip6-localhost ip6-loopback\n"
                       "fe00::0\tip6-localnet\n"
                       "ff00::0\tip6-mcastprefix\n"
                       "ff02::1\tip6-allnodes\n"
                       "ff02::2\tip6-allrouters\n";
    for (const auto& line : lines) text += line + "\n";
    return text;
}

}  // namespace

std::string hosts_file(const NetworkRecord& network, const std::string& id) {
    return render_hosts(network_host_lines(network, id));
}

std::string hosts_file(const IpamState& state, const std::string& id) {
    // The network the container started on comes first, so its hostname resolves to that
    // address; networks joined later by `network connect` follow.
    std::vector<const NetworkRecord*> member_of;
    for (const auto& [name, network] : state.networks) {
        auto lease = network.leases.find(id);
        if (lease == network.leases.end()) continue;
        if (lease->second.kind == LeaseKind::connected) {
            member_of.push_back(&network);
        } else {
            member_of.insert(member_of.begin(), &network);
        }
    }
    std::vector<std::string> lines;
    for (const auto* network : member_of) {
        for (auto& line : network_host_lines(*network, id)) {
            if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(std::move(line));
        }
    }
    return render_hosts(lines);
}

void refresh_hosts_files(const Paths& paths, const IpamState& state, const NetworkRecord& network) {
    if (!network.user_defined) return;
    // A member may be on other networks too, and its hosts file names their members as
    // well. `network` may be newer than its copy in `state`.
    IpamState merged = state;
    merged.networks[network.name] = network;
    for (const auto& [id, lease] : network.leases) {
        overwrite_in_place(container::container_paths(paths, id).directory / "hosts", hosts_file(merged, id));
    }
}

void refresh_hosts_files(const Paths& paths, const NetworkRecord& network) {
    if (!network.user_defined) return;
    refresh_hosts_files(paths, load_ipam(paths), network);
}

}  // namespace isolab::network
