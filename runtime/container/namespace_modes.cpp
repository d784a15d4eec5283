#include "runtime/container/namespace_modes.hpp"

#include <sched.h>

#include "runtime/core/error.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::container {

void check_namespace_modes(const RunOptions& options) {
    const auto& mode = options.network;
    if (!mode.empty() && mode != "none" && mode != "host" && !network::uses_bridge(mode)) {
        throw Error("unsupported --network '" + mode + "'", "use bridge (the default), none or host");
    }
    network::check_network_aliases(mode, options.network_aliases);
    for (const auto& text : options.publish) network::parse_port_mapping(text);
    if ((!options.publish.empty() || options.publish_all) && !network::uses_bridge(mode)) {
        throw Error("published ports need a bridge network, not --network " + (mode.empty() ? "none" : mode),
                    "drop -p and -P, or use --network bridge");
    }
    if (!options.pid_mode.empty() && options.pid_mode != "host") {
        throw Error("unsupported --pid '" + options.pid_mode + "'", "use host, or leave --pid out for a pid namespace of its own");
    }
    if (!options.ipc_mode.empty() && options.ipc_mode != "host" && options.ipc_mode != "private") {
        throw Error("unsupported --ipc '" + options.ipc_mode + "'", "use host or private");
    }
}

void apply_namespace_modes(LaunchPlan& plan, const RunOptions& options) {
    if (options.network == "host") {
        plan.clone_flags &= ~CLONE_NEWNET;
        plan.own_network = false;
    }
    if (options.pid_mode == "host") plan.clone_flags &= ~CLONE_NEWPID;
    if (options.ipc_mode == "host") plan.clone_flags &= ~CLONE_NEWIPC;
}

}  // namespace isolab::container
