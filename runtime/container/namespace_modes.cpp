#include "runtime/container/namespace_modes.hpp"

#include <sched.h>

#include "runtime/core/error.hpp"

namespace isolab::container {

void check_namespace_modes(const RunOptions& options) {
    if (!options.network.empty() && options.network != "none" && options.network != "host") {
        throw Error("unsupported --network '" + options.network + "'",
                    "use none (the default: only lo) or host; isolab has no bridge network");
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
