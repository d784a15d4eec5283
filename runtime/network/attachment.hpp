#pragma once
// A container's place on a bridge network: its address lease, its veth pair, its
// /etc/hosts, /etc/hostname and /etc/resolv.conf, and, while it is the first user, the
// bridge and its iptables rules. One ContainerNetwork owns all of it and releases it in
// its destructor. When its owner process was killed, release_stale_leases() (called by
// `ps`, `rm` and `system prune`) releases what it held once the container's processes
// are gone.
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/mount_spec.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/network/ipam.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::network {

// The name of the default network, as Docker names it; "default" is accepted for it too.
inline constexpr const char* default_network = "bridge";

// True when `mode` (the --network value) puts the container on a bridge network: the
// default one ("bridge" or "default") or one made by `network create`.
bool uses_bridge(const std::string& mode);

// Checks the --network-alias values of a container on the network `mode`. As Docker does,
// throws Error when there is any and `mode` is not a user-defined network, because only
// those resolve names. Also throws Error for an alias that is empty or contains
// whitespace, which would break the /etc/hosts line it is written to.
void check_network_aliases(const std::string& mode, const std::vector<std::string>& aliases);

// The published ports of a request: each -p value, and with -P each of the image's
// `exposed_ports` on a free host port. Throws Error for an invalid -p value.
std::vector<PortMapping> requested_ports(const container::RunOptions& request, const std::vector<std::string>& exposed_ports);

class ContainerNetwork {
public:
    // Leases an address on the network `mode` names for the container `id` (named `name`
    // and its `aliases` for the other members of a user-defined network), creating the
    // bridge and its rules when none exists, binds the published `ports` and writes the
    // three /etc files into `container_directory`. Throws Error; on failure nothing is
    // left behind.
    ContainerNetwork(const Paths& paths, const std::string& mode, const std::string& id, const std::string& name,
                     const std::string& hostname, const std::filesystem::path& container_directory,
                     std::vector<PortMapping> ports = {}, std::vector<std::string> aliases = {});
    // Releases the address, the veth pairs of every network and the published ports.
    ~ContainerNetwork();
    ContainerNetwork(const ContainerNetwork&) = delete;
    ContainerNetwork& operator=(const ContainerNetwork&) = delete;

    // Bind mounts of the /etc files, to add to the container's mounts.
    std::vector<container::ContainerMount> etc_mounts() const;

    // Creates the veth pair into the network namespace of the container's first process
    // `pid`, configures eth0, records `pid` in the lease and starts forwarding the
    // published ports. Then joins the networks `network connect` recorded for the
    // container, as eth1 and on.
    void connect(pid_t pid);

    const std::string& address() const { return address_; }

private:
    Paths paths_;
    std::string network_;
    std::string id_;
    std::string name_;
    std::string hostname_;
    std::string address_;
    std::string device_;
    std::filesystem::path directory_;
    std::unique_ptr<PortProxy> proxy_;
};

// The name of the container or VM whose lease in `state` publishes the host port of
// `taken`, or empty.
std::string port_holder(const Paths& paths, const IpamState& state, const PortMapping& taken);

// Starts the network of `request` (its --network, -p and -P) for the container `id`, or
// returns nullptr for --network none and host.
std::unique_ptr<ContainerNetwork> attach_network(const Paths& paths, const container::RunOptions& request,
                                                 const std::vector<std::string>& exposed_ports, const std::string& id,
                                                 const std::string& name, const std::string& hostname,
                                                 const std::filesystem::path& container_directory);

// Releases the leases (veth, and bridge and rules of a network left unused) whose owner
// and container process are both gone. Returns the container ids whose lease it released.
std::vector<std::string> release_stale_leases(const Paths& paths);

// Network leftovers that `system prune` removes besides stale leases. These are isolab
// bridges that no lease uses, of this state root or of one that no longer exists, and
// iptables rules of bridges that no longer exist.
struct NetworkLeftovers {
    std::vector<std::string> leases;   // container ids
    std::vector<std::string> bridges;  // device names
    std::vector<std::string> rules;    // as `iptables -S` prints them
};

NetworkLeftovers prune_network_leftovers(const Paths& paths);

// The container's resolv.conf made from the host's: loopback nameservers are dropped, as
// Docker drops them, and 8.8.8.8 and 8.8.4.4 are used when none is left.
std::string container_resolv_conf(const std::string& host_text);

// The resolv.conf of a container or VM on a bridge network: container_resolv_conf of the
// host's /etc/resolv.conf, which counts as empty when it cannot be read.
std::string bridge_resolv_conf();

// Docker's NetworkSettings for `inspect`: IPAddress, Gateway, IPPrefixLen, Networks and
// Ports. Ports maps "80/tcp" to its host bindings, [{"HostIp": "0.0.0.0", "HostPort":
// "8080"}], and each of `exposed_ports` that is not published to null. Empty values when
// the container holds no lease.
nlohmann::json network_settings(const Paths& paths, const std::string& id, const std::vector<std::string>& exposed_ports = {});

// The published ports of container `id` ("0.0.0.0:8080->80/tcp", as `describe` writes
// them), in the order of its -p and -P values. Empty when it holds no lease.
std::vector<std::string> published_ports(const Paths& paths, const std::string& id);

}  // namespace isolab::network
