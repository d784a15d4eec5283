#pragma once
// Fault points for crash tests. A fault point is a named step of a command, such as
// "run.cgroup" or "volume.folder". When the environment variable ISOLAB_FAULT contains
// that name, the process kills itself with SIGKILL at that step, as a power cut or the
// OOM killer would. A test can then check the state root and the host after a crash at
// exactly that step, and that `isolab system prune` cleans up.
//
// The points are always compiled in: without ISOLAB_FAULT a point costs one getenv().
// docs/reliability.md lists them.
namespace isolab {

// Kills this process with SIGKILL when ISOLAB_FAULT equals `name`, or, when ISOLAB_FAULT
// is `name@N`, when this process reaches the point for the Nth time (compose.started@2:
// after the second container compose starts).
void fault_point(const char* name);

}  // namespace isolab
