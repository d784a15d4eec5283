#pragma once
// Adopting the processes that library code daemonizes. libvirt's embedded QEMU driver
// starts QEMU through a double fork, so QEMU's parent becomes PID 1, or the nearest
// ancestor marked as a child subreaper. When QEMU exits, libvirt 9.0 polls kill(pid, 0)
// until it fails, and a zombie passes that check. On a host whose PID 1 reaps orphans
// late, each VM stop then waits for PID 1: 1.3 to 2.0 s from the guest's exit line to
// libvirt's stop event (`vm run --phases`) on a 2-CPU Debian 12 host without systemd.
#include <sys/types.h>

#include <functional>

namespace isolab::kernel {

// Runs `body` with this process marked as a child subreaper (PR_SET_CHILD_SUBREAPER), so
// the processes that this process's descendants orphan meanwhile become its children.
// Concurrent and nested calls share the mark. The last one to end clears it, unless the
// process was a subreaper before the first. Throws Error when prctl fails.
void run_as_subreaper(const std::function<void()>& body);

// Starts a detached thread that waits for `pid`, so its exit status is collected as soon
// as it exits. Does nothing when `pid` is not a child of this process. Returns whether a
// thread was started.
bool reap_when_exited(pid_t pid);

// The parent process of `pid` from /proc/PID/stat, or -1 when it cannot be read.
pid_t parent_of(pid_t pid);

}  // namespace isolab::kernel
