#include "vmdriver/network/vm_network.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/ipam.hpp"
#include "runtime/network/netlink.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm {

namespace {

// A container's veth is "isolab" and 9 hex digits, so the 't' keeps the two apart. Random,
// because two state roots may run VMs of the same name.
std::string new_tap_name() { return "isolabt" + random_hex_id().substr(0, 8); }

// The VM's name without the "isolab-" prefix, as other members of a user-defined network
// resolve it.
std::string short_name(const std::string& name) {
    return name.starts_with(libvirt::kDomainPrefix) ? name.substr(libvirt::kDomainPrefix.size()) : name;
}

}  // namespace

void check_vm_network_mode(const std::string& mode) {
    if (mode == "host") {
        throw Error("invalid --network host for a VM: a guest has its own kernel and cannot share the host's network stack",
                    "use --network bridge (the default), a network made by `isolab network create`, or none");
    }
    if (mode.empty()) throw Error("invalid empty --network", "use bridge, none or the name of a network");
}

VmNetwork::VmNetwork(const Paths& paths, const std::string& mode, const std::string& name,
                     std::vector<network::PortMapping> ports)
    : paths_(paths), network_(network::network_name(mode)), name_(name) {
    network::IpamLock lock(paths_);
    auto state = network::load_ipam(paths_);
    network::drop_stale_leases(paths_, state);
    for (const auto& [other_name, other] : state.networks) {
        if (other.leases.count(name_)) {
            throw Error(fmt::format("cannot create VM {}: a running VM of that name holds an address on network {}",
                                    name_, other_name),
                        fmt::format("remove it with `isolab vm rm -f {}`, or choose another --name", name_));
        }
    }
    if (network_ != network::default_network && !state.networks.count(network_)) {
        throw Error("network " + network_ + " not found", "create it with 'isolab network create " + network_ + "'");
    }
    std::vector<std::string> other_subnets;
    for (const auto& [other_name, other] : state.networks) {
        if (other_name != network_) other_subnets.push_back(other.subnet);
    }
    auto& record = state.networks[network_];
    record.name = network_;
    network::ensure_bridge(paths_, record, other_subnets);
    try {
        if (!ports.empty()) {
            proxy_ = std::make_unique<network::PortProxy>(
                std::move(ports), [&](const network::PortMapping& taken) { return network::port_holder(paths_, state, taken); });
        }
        guest_.address = network::allocate_address(record);
        guest_.prefix = network::parse_ipv4(record.subnet).prefix;
        guest_.gateway = record.gateway;
        guest_.bridge = record.bridge;
        guest_.tap_device = new_tap_name();

        network::Lease lease;
        lease.address = guest_.address;
        lease.device = guest_.tap_device;
        lease.kind = network::LeaseKind::vm;
        lease.owner_pid = getpid();
        lease.owner_start_ticks = container::process_start_ticks(getpid());
        lease.name = short_name(name_);
        lease.hostname = name_;
        lease.ports = published_ports();
        record.leases[name_] = lease;
        network::save_ipam(paths_, state);
        network::refresh_hosts_files(paths_, record);
    } catch (...) {
        proxy_.reset();
        record.leases.erase(name_);
        network::remove_bridge_if_unused(paths_, record);
        throw;
    }
    owns_lease_ = true;
    spdlog::debug("net: VM {} has {} on {} ({}), tap {}", name_, guest_.address, guest_.bridge, network_,
                  guest_.tap_device);
}

std::unique_ptr<VmNetwork> VmNetwork::adopt(const Paths& paths, const std::string& name) {
    std::unique_ptr<VmNetwork> adopted(new VmNetwork(paths, name));
    network::IpamLock lock(paths);
    auto state = network::load_ipam(paths);
    for (auto& [network_name, record] : state.networks) {
        auto found = record.leases.find(name);
        if (found == record.leases.end()) continue;
        auto& lease = found->second;
        std::vector<network::PortMapping> ports;
        for (const auto& published : lease.ports) ports.push_back(network::parse_description(published));
        if (!ports.empty()) {
            adopted->proxy_ = std::make_unique<network::PortProxy>(std::move(ports), [&](const network::PortMapping& taken) {
                return network::port_holder(paths, state, taken);
            });
        }
        adopted->network_ = network_name;
        adopted->guest_ = {lease.address, network::parse_ipv4(record.subnet).prefix, record.gateway, record.bridge,
                           lease.device};
        adopted->qemu_pid_ = lease.pid;
        lease.owner_pid = getpid();
        lease.owner_start_ticks = container::process_start_ticks(getpid());
        network::save_ipam(paths, state);
        adopted->owns_lease_ = true;
        spdlog::debug("net: took over the lease of VM {} ({} on {})", name, lease.address, record.bridge);
        return adopted;
    }
    throw Error(fmt::format("cannot restore the network of VM {}: its address lease is missing", name),
                fmt::format("remove it with `isolab vm rm -f {}` and run it again", name));
}

VmNetwork::~VmNetwork() {
    proxy_.reset();
    if (owns_lease_) release_vm_network(paths_, name_);
}

std::vector<std::string> VmNetwork::published_ports() const {
    std::vector<std::string> published;
    if (proxy_) {
        for (const auto& mapping : proxy_->mappings()) published.push_back(network::describe(mapping));
    }
    return published;
}

void VmNetwork::attach(pid_t qemu_pid) {
    {
        network::IpamLock lock(paths_);
        auto state = network::load_ipam(paths_);
        auto& lease = state.networks.at(network_).leases.at(name_);
        lease.pid = qemu_pid;
        lease.pid_start_ticks = container::process_start_ticks(qemu_pid);
        network::save_ipam(paths_, state);
    }
    qemu_pid_ = qemu_pid;
    if (proxy_) proxy_->start(guest_.address);
    spdlog::debug("net: VM {} runs as QEMU process {}", name_, qemu_pid);
}

void release_vm_network(const Paths& paths, const std::string& name) {
    try {
        network::IpamLock lock(paths);
        auto state = network::load_ipam(paths);
        for (auto& [network_name, record] : state.networks) {
            auto lease = record.leases.find(name);
            if (lease == record.leases.end()) continue;
            // libvirt deletes the tap when QEMU exits; this covers a domain it lost track of.
            network::delete_device(lease->second.device);
            spdlog::debug("net: VM {} released {}", name, lease->second.address);
            record.leases.erase(lease);
            network::remove_bridge_if_unused(paths, record);
            network::refresh_hosts_files(paths, record);
            network::save_ipam(paths, state);
            return;
        }
    } catch (const std::exception& error) {
        spdlog::warn("net: cannot release the address of VM {}: {}", name, error.what());
    }
}

}  // namespace isolab::vm
