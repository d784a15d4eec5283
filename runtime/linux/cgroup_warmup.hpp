#pragma once
// Taking the wait of the first cgroup move of a container start off its critical path.
#include <thread>

#include "runtime/linux/cgroups.hpp"

namespace isolab::kernel {

// Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem for writing.
// When no move happened in the last RCU grace period, that lock first waits for a grace
// period: 10 to 20 ms on a 2-CPU host with HZ=250, during which the container's first
// process cannot go on. Once one move has waited, the moves in the next grace period do
// not. This object moves the calling process into the cgroup it is already in (the
// kernel moves nothing) on a thread of its own, so that wait overlaps with the set-up
// done before the container's process is cloned. Call wait() before that clone: a
// process cloned while another thread runs could inherit a lock that thread holds.
// Failures are only logged: add_process() still works, just with the wait.
class CgroupMoveWarmup {
public:
    explicit CgroupMoveWarmup(const CgroupHost& host);
    ~CgroupMoveWarmup() { wait(); }
    // Returns once the move is done; the thread has ended.
    void wait();
    CgroupMoveWarmup(const CgroupMoveWarmup&) = delete;
    CgroupMoveWarmup& operator=(const CgroupMoveWarmup&) = delete;

private:
    std::thread thread_;
};

}  // namespace isolab::kernel
