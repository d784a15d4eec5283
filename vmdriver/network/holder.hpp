#pragma once
// The network holder of a detached VM: one small isolab process per VM, in its own
// session, that owns the VM's VmNetwork while the domain runs, as a detached container's
// monitor owns its network. The listening sockets of published ports must belong to a
// living process, and libvirtd owns only the domain.
//
// Protocol on two pipes: the holder leases the address and binds the ports, then writes
// one JSON line on its ready descriptor (the guest's interface, or the error). It then
// reads "attach <QEMU pid>" on stdin, starts forwarding, confirms with a second line, and
// lives until that QEMU process exits or it gets SIGTERM. End of file on stdin before
// "attach" means the VM did not start: it releases everything and exits.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"
#include "vmdriver/network/vm_network.hpp"

namespace isolab::vm {

// The hidden subcommand: isolab vm-network-holder --ready-fd N [--adopt] NAME.
inline constexpr const char* network_holder_command = "vm-network-holder";

// The parent's side of one holder process.
class NetworkHolder {
public:
    // Starts the holder of the VM `name`, whose record (vm.json) names the network and the
    // published ports, and waits until it has bound them. Throws the Error it reports.
    NetworkHolder(const Paths& paths, const std::string& name);
    // Before attach(): closes the holder's stdin, so it releases everything, and waits for
    // it to exit.
    ~NetworkHolder();
    NetworkHolder(const NetworkHolder&) = delete;
    NetworkHolder& operator=(const NetworkHolder&) = delete;

    const GuestInterface& guest() const { return guest_; }
    const std::vector<std::string>& published_ports() const { return published_; }
    pid_t pid() const { return pid_; }

    // Hands the VM's QEMU process to the holder, which then owns the network until that
    // process exits. Throws Error when the holder does not confirm.
    void attach(pid_t qemu_pid);

private:
    pid_t pid_ = -1;
    int command_fd_ = -1;  // the holder's stdin
    int ready_fd_ = -1;
    bool attached_ = false;
    GuestInterface guest_;
    std::vector<std::string> published_;
};

// Starts a new holder for the running VM `name` whose holder died. The new holder takes
// over the VM's lease, binds the published ports the lease records again and watches the
// QEMU process the lease names. Returns its pid. Throws the Error it reports, for
// example a port that another process took meanwhile.
pid_t restart_network_holder(const Paths& paths, const std::string& name);

// The body of the holder process. With `adopt` (`--adopt`), the holder takes over the
// lease of a running VM instead of leasing an address, and reports once on `ready_fd`.
// Returns its exit code.
int run_network_holder(const Paths& paths, const std::string& name, int ready_fd, bool adopt = false);

// Ends the holder `pid` (checked against its start time) with SIGTERM and waits up to
// 5 s for it, so its ports are free when this returns.
void stop_network_holder(pid_t pid, std::uint64_t start_ticks);

}  // namespace isolab::vm
