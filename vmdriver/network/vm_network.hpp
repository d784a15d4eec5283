#pragma once
// A VM's place on an isolab bridge network, built from the runtime/network pieces that a
// container's network uses. It consists of an address lease in ipam.json, a port of the
// bridge (the tap device libvirt creates for the domain's virtio NIC), the listening
// sockets of published ports, and, while the VM is the first user, the bridge and its
// iptables rules. One VmNetwork owns all of it and releases it in its destructor.
//
// The lease names the owning isolab process and the VM's QEMU process. When the owner is
// killed, the lease stays while QEMU runs and is released as stale once it has exited
// (by `vm ps`, `vm rm`, `ps`, `rm` and `system prune`).
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::vm {

// The guest's side of its lease: what goes on the kernel command line and into the
// domain XML.
struct GuestInterface {
    std::string address;     // "10.89.0.2"
    int prefix = 24;
    std::string gateway;     // the bridge's address, the guest's default route
    std::string bridge;      // "isolab0"
    std::string tap_device;  // "isolabt" and 8 hex digits, the host end of the NIC
};

// Checks a `vm run --network` value: "none", "bridge" (or "default"), or a user-defined
// network. Throws Error for "host", which a VM cannot share.
void check_vm_network_mode(const std::string& mode);

class VmNetwork {
public:
    // Leases an address for the VM `name` (the domain name) on the network `mode` names,
    // creating the bridge and its rules when none exists, and binds the published
    // `ports`. Throws Error; on failure nothing is left behind.
    VmNetwork(const Paths& paths, const std::string& mode, const std::string& name,
              std::vector<network::PortMapping> ports);
    // Takes over the lease that the VM `name` already holds, as a new network holder does
    // after the previous one died: binds the published ports the lease records and names
    // this process as the owner. Throws Error when there is no such lease or a port is
    // taken.
    static std::unique_ptr<VmNetwork> adopt(const Paths& paths, const std::string& name);
    ~VmNetwork();
    VmNetwork(const VmNetwork&) = delete;
    VmNetwork& operator=(const VmNetwork&) = delete;

    const GuestInterface& guest() const { return guest_; }

    // The published ports as `ps` shows them, "127.0.0.1:8080->80/tcp".
    std::vector<std::string> published_ports() const;

    // Records the VM's QEMU process in the lease and starts forwarding the published ports
    // to the guest's address.
    void attach(pid_t qemu_pid);

    // The QEMU process the lease records; 0 before attach().
    pid_t qemu_pid() const { return qemu_pid_; }

private:
    VmNetwork(const Paths& paths, const std::string& name) : paths_(paths), name_(name) {}

    Paths paths_;
    std::string network_;
    std::string name_;
    GuestInterface guest_;
    std::unique_ptr<network::PortProxy> proxy_;
    pid_t qemu_pid_ = 0;
    bool owns_lease_ = false;  // false while adopt() has not taken the lease: nothing to release
};

// Releases the lease of the VM `name`, whichever process owns it: deletes its tap device when
// libvirt left it, and the bridge and rules when nothing else uses them. For a VM whose
// domain is gone.
void release_vm_network(const Paths& paths, const std::string& name);

}  // namespace isolab::vm
