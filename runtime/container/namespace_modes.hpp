#pragma once
// --network, --pid and --ipc: which namespaces a container shares with the host.
#include "runtime/container/launch.hpp"
#include "runtime/container/run_options.hpp"

namespace isolab::container {

// Checks the values: --network bridge|default|host|none, -p (only with a bridge network), --pid host, --ipc host|private, each or unset. Throws Error.
void check_namespace_modes(const RunOptions& options);

// Leaves the shared namespaces out of the plan's clone flags. With --network host there
// is no network namespace of the container's own, so its loopback is not touched.
void apply_namespace_modes(LaunchPlan& plan, const RunOptions& options);

}  // namespace isolab::container
