#pragma once
// The bridges behind isolab's networks and the steps that change ipam.json, shared by a
// container's attachment and by `isolab network`. Functions that take an IpamState expect
// the caller to hold an IpamLock.
#include <string>
#include <vector>

#include "runtime/core/files.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/network/ipam.hpp"

namespace isolab::network {

// The FileLock of ipam.json, taken for every change of it.
class IpamLock {
public:
    explicit IpamLock(const Paths& paths);

private:
    FileLock lock_;
};

// A host-wide lock, held while bridges are chosen, created or removed and while isolab's
// iptables chains change. Bridges, routes and iptables chains belong to the host, not to
// one state root, so two state roots must not pick the same bridge name or subnet, or
// create and delete the shared ISOLAB-* chains at the same moment. Taken after an
// IpamLock, never before one.
class HostNetworkLock {
public:
    HostNetworkLock();

private:
    FileLock lock_;
};

// The alias a bridge of this state root carries: "isolab:" and the root's path.
std::string owner_alias(const Paths& paths);

// True when `alias` names a state root, as owner_alias() writes it.
bool is_owner_alias(const std::string& alias);

// The state root an alias names.
std::string alias_root(const std::string& alias);

// The record name of the network `mode` names ("default" is the default network).
std::string network_name(const std::string& mode);

// The host end of a container's veth pair.
std::string veth_name(const std::string& id);

// Deletes a device unless it is gone already; failures are logged.
void delete_device(const std::string& device);

// Creates the network's bridge and rules unless a bridge of this state root exists. The
// default network takes a free name, and a free subnet not in `taken_subnets`, each time
// it is created again.
void ensure_bridge(const Paths& paths, NetworkRecord& network, const std::vector<std::string>& taken_subnets = {});

// Removes the bridge of the default network and its rules once no lease uses it.
void remove_bridge_if_unused(const Paths& paths, const NetworkRecord& network);

// Removes the bridge and rules of a network, whatever uses it.
void remove_bridge(const Paths& paths, const NetworkRecord& network);

// Removes stale leases from `state` with their devices. Returns their container ids.
std::vector<std::string> drop_stale_leases(const Paths& paths, IpamState& state);

// Rewrites the /etc/hosts file of every member of a user-defined network, so each names
// all the others, and the members of the other networks it is on. The caller holds the
// lock; `network` may be newer than ipam.json (or than its copy in `state`).
void refresh_hosts_files(const Paths& paths, const NetworkRecord& network);
void refresh_hosts_files(const Paths& paths, const IpamState& state, const NetworkRecord& network);

// The /etc/hosts of the container `id` on `network` alone.
std::string hosts_file(const NetworkRecord& network, const std::string& id);

// The /etc/hosts of the container `id` on every network of `state` it is on: the network
// it started on first, then those it joined with `network connect`, each line once.
std::string hosts_file(const IpamState& state, const std::string& id);

}  // namespace isolab::network
