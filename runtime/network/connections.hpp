#pragma once
// The networks `network connect` added to a container, beside the one it was created on.
// Docker keeps such a connection in the container's configuration, so it outlives a stop.
// isolab records the network names and aliases in networks.json in the container's folder. The
// container's owner connects them again at each start, restarts by the restart policy
// included. join_network expects the caller to hold an IpamLock.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"
#include "runtime/network/ipam.hpp"

namespace isolab::network {

// A network that `network connect` added, with the extra names the container has there.
struct ConnectedNetwork {
    std::string name;
    std::vector<std::string> aliases;
};

// The networks recorded for the container whose folder is `container_directory`, in the
// order they were connected. Empty when there is no record.
std::vector<ConnectedNetwork> connected_networks(const std::filesystem::path& container_directory);

// Replaces that record, atomically.
void save_connected_networks(const std::filesystem::path& container_directory,
                             const std::vector<ConnectedNetwork>& networks);

// A running container about to join a network.
struct NetworkMember {
    std::string id;
    std::string name;
    std::string hostname;
    pid_t pid = 0;                     // the container's first process
    std::uint64_t pid_start_ticks = 0;
    pid_t owner_pid = 0;               // the process that owns the container
    std::uint64_t owner_start_ticks = 0;
};

// Leases an address of `network` (an entry of `state`) for `member`, under which the
// other containers there also resolve `aliases`. Creates a veth pair whose container end
// is the next free ethN, configures it without changing the default route, and saves
// `state`. Throws Error, and then the veth is gone and `state` is not saved.
void join_network(const Paths& paths, IpamState& state, NetworkRecord& network, const NetworkMember& member,
                  const std::vector<std::string>& aliases = {});

// Joins `member` to each network recorded for it, for a start by its owner. A network
// that is gone, or that cannot be joined, is logged and skipped. Takes the IpamLock
// itself. Returns the names of the networks it joined.
std::vector<std::string> rejoin_connected_networks(const Paths& paths, const NetworkMember& member,
                                                   const std::filesystem::path& container_directory);

// Releases the leases and veths that container `id` holds on networks other than the one
// it was created on. Takes the IpamLock itself.
void leave_connected_networks(const Paths& paths, const std::string& id);

}  // namespace isolab::network
