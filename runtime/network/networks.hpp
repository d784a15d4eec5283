#pragma once
// User-defined networks (`isolab network create|ls|inspect|rm|prune`). Each is a bridge of
// its own with a subnet of its own, kept while the network exists. Containers on one
// resolve each other's names through /etc/hosts entries, which isolab rewrites in every
// member whenever one joins or leaves. A file needs no server in the container, so isolab
// runs no DNS server, unlike Docker's embedded one.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/paths.hpp"
#include "runtime/network/ipam.hpp"

namespace isolab::network {

// The maximum length of a network name in `network create` and in compose files.
inline constexpr size_t kMaxNetworkNameLength = 64;

// Creates the network `name` with its bridge and `labels`. `subnet` empty: a free /24 of
// 10.89.0.0/16. Throws Error when the name is invalid or taken, or the subnet is invalid
// or overlaps a route of the host.
NetworkRecord create_network(const Paths& paths, const std::string& name, const std::string& subnet,
                             const std::map<std::string, std::string>& labels = {});

// The default network and the user-defined ones, by name.
std::vector<NetworkRecord> list_networks(const Paths& paths);

// The table of `network ls`: NAME, DRIVER, BRIDGE, SUBNET and CONTAINERS (a count).
// With `quiet`, only the names.
std::string networks_table(const std::vector<NetworkRecord>& networks, bool quiet);

// The network's id, 64 hex digits. create_network stores a random one. The default network
// and one that an older isolab recorded without an id get one derived from the state root
// and the name, so it stays the same while the state root exists.
std::string network_id(const Paths& paths, const NetworkRecord& network);

// Docker's `network inspect` object of the network `name` (a name, or a unique prefix of
// at least 3 digits of its id), with each container's name, MAC and IPv4 address. Throws
// Error when it does not exist.
nlohmann::json inspect_network(const Paths& paths, const std::string& name);

// Removes a user-defined network and its bridge. Throws Error for the default network, an
// unknown one, or one that containers still use.
void remove_network(const Paths& paths, const std::string& name);

// Connects the container `container` (name or id) to the user-defined network `name` and
// records the connection and its `aliases` in the container's folder, so each later start
// connects it again. A running container gets a further veth pair at once: ethN inside,
// with an address of that network and no route change, and /etc/hosts entries on both
// sides, where the others also resolve its aliases. Throws Error when either is missing
// or the container is on that network already.
void connect_container(const Paths& paths, const std::string& name, const std::string& container,
                       const std::vector<std::string>& aliases = {});

// Disconnects a container that `connect_container` connected and drops the record. Throws
// Error when it is not connected to that network that way.
void disconnect_container(const Paths& paths, const std::string& name, const std::string& container);

// Removes the user-defined networks that no container uses: none holds an address on it,
// none was created on it and none was connected to it, whether running or not. Returns
// their names.
std::vector<std::string> prune_networks(const Paths& paths);

}  // namespace isolab::network
