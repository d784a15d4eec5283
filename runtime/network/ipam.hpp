#pragma once
// Address management for isolab's bridge networks, kept in <state root>/network/ipam.json.
// Each network records its bridge device, its subnet and one lease per connected
// container. Every change takes the FileLock <state root>/network/ipam.lock.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/paths.hpp"

namespace isolab::network {

// The device a lease gives an address to: a container's first veth, a veth that
// `network connect` added to a container, or a VM's tap device.
enum class LeaseKind { container, connected, vm };

// The name ipam.json stores for `kind`: "container", "connected" or "vm".
const char* lease_kind_name(LeaseKind kind);

// The kind of a lease in an ipam.json written before leases recorded one, inferred from
// its host device. "isolabt" and 8 hex digits is a VM's tap. A 15-character name ending
// in a letter after f is a veth of `network connect`, and anything else a first veth.
LeaseKind infer_lease_kind(const std::string& device);

// The address of one container or VM and the processes that keep it in use: the owner (the
// monitor or the foreground `isolab run`) and the container's first process. A lease
// whose two processes are both gone is stale.
struct Lease {
    std::string address;             // "10.89.0.2"
    std::string device;              // the host end of the veth pair, or the VM's tap device
    LeaseKind kind = LeaseKind::container;
    std::string mac_address;         // of the container's interface; empty for a VM, because libvirt picks its MAC
    pid_t owner_pid = 0;
    std::uint64_t owner_start_ticks = 0;
    pid_t pid = 0;                   // 0 until the container's process is connected
    std::uint64_t pid_start_ticks = 0;
    std::vector<std::string> ports;  // published ports, "0.0.0.0:18080->80/tcp"
    std::string name;                // the container's name, which other members resolve
    std::string hostname;
    std::vector<std::string> aliases;  // more names that other members resolve (--network-alias)
};

struct NetworkRecord {
    std::string name;                          // "bridge" for the default network
    std::string id;                            // 64 hex digits, user-defined networks only; see network_id()
    std::string bridge;                        // device name, "isolab0" unless taken
    std::string subnet;                        // "10.89.0.0/24"
    std::string gateway;                       // the bridge's address, the subnet's first host
    bool user_defined = false;                 // made by `network create`: the bridge stays without containers
    std::string created;                       // RFC 3339, user-defined networks only
    std::map<std::string, std::string> labels; // user-defined networks only; compose marks its networks here
    std::map<std::string, Lease> leases;       // by container id
};

struct IpamState {
    std::map<std::string, NetworkRecord> networks;  // by name
};

void to_json(nlohmann::json& json, const Lease& lease);
void from_json(const nlohmann::json& json, Lease& lease);
void to_json(nlohmann::json& json, const NetworkRecord& record);
void from_json(const nlohmann::json& json, NetworkRecord& record);

std::filesystem::path ipam_directory(const Paths& paths);

// Reads ipam.json; an empty state when it does not exist yet. The caller holds the lock.
IpamState load_ipam(const Paths& paths);

// Writes ipam.json atomically. The caller holds the lock.
void save_ipam(const Paths& paths, const IpamState& state);

// The first host address of `subnet` that no lease holds and that is not the gateway.
// Throws Error when the subnet is full.
std::string allocate_address(const NetworkRecord& network);

// A free /24 for a new bridge: `preferred` unless a route of the host overlaps it or it
// is in `taken`, else the next free one of 10.89.0.0/16. Throws Error when all are taken.
std::string choose_subnet(const std::string& preferred, const std::vector<std::string>& taken = {});

// True when a route in the host's main table (/proc/net/route) overlaps `subnet`; the
// default route does not count.
bool subnet_in_use(const std::string& subnet);

// True when the lease is stale: neither its owner nor its container process lives.
bool lease_stale(const Lease& lease);

}  // namespace isolab::network
