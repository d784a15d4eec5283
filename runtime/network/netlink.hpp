#pragma once
// Network devices over rtnetlink (libnl-route-3): the bridge, the veth pair of a
// container, addresses and routes. Every call throws Error naming the device and the
// kernel's reason.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace isolab::network {

// An IPv4 address in host byte order, with the prefix length of its subnet.
struct Ipv4Address {
    std::uint32_t value = 0;
    int prefix = 32;
};

// "10.89.0.2" (no prefix).
std::string to_string(std::uint32_t address);
// Parses "10.89.0.0/24" or "10.89.0.2" (prefix 32). Throws Error for anything else.
Ipv4Address parse_ipv4(const std::string& text);

struct LinkInfo {
    std::string name;
    std::string type;        // "bridge", "veth", ... ; empty for a device without a kind
    std::string alias;       // IFLA_IFALIAS
    int index = 0;
    int master = 0;          // index of the bridge the device is a port of; 0: none
};

// Devices of the current network namespace.
std::vector<LinkInfo> list_links();

// True when a device of that name exists in the current network namespace.
bool link_exists(const std::string& name);

// Creates a bridge that is up, holds `gateway` (with the subnet's prefix) and carries
// `alias`, which names its owner so that `system prune` can tell leftovers apart.
void create_bridge(const std::string& name, const Ipv4Address& gateway, const std::string& alias);

// Deletes a device; a missing one is not an error. Deleting one end of a veth pair
// deletes the other end too.
void delete_link(const std::string& name);

// Creates a veth pair: `host_name` stays here as a port of `bridge` and is set up, and
// its peer is created as `peer_name` in the network namespace of `pid`.
void create_veth(const std::string& host_name, const std::string& bridge, pid_t pid, const std::string& peer_name = "eth0");

// The MAC address a container's interface with the IPv4 `address` gets:
// "02:42:0a:59:00:02" for 10.89.0.2.
std::string container_mac_address(std::uint32_t address);

// Inside the network namespace of `pid`: gives `interface` its `address` and the MAC
// address container_mac_address() returns for it, and sets it up, and with
// `default_route` adds the default route via `gateway`.
void configure_container_interface(pid_t pid, const Ipv4Address& address, std::uint32_t gateway,
                                   const std::string& interface = "eth0", bool default_route = true);

}  // namespace isolab::network
