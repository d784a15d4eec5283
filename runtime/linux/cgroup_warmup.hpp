#pragma once
// Taking the wait of the first cgroup move of a container start off its critical path.
#include <thread>

#include "runtime/linux/cgroups.hpp"

namespace isolab::kernel {

// Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem for writing.
// When no move happened in the last RCU grace period, that lock first waits for a grace
// period (9 to 19 ms measured on a 2-CPU host with HZ=250), and the container's first
// process cannot go on meanwhile. Once one move has waited, the moves in the next grace
// period do not. This object moves the calling process into the cgroup it is already in
// (the kernel moves nothing) on a thread of its own, so that wait overlaps with the
// set-up done before the container's process is cloned. Call wait() before that clone,
// because a process cloned while another thread runs could inherit a lock that thread
// holds. Failures are only logged: add_process() still works, just with the wait.
class CgroupMoveWarmup {
public:
    explicit CgroupMoveWarmup(const CgroupHost& host);
    ~CgroupMoveWarmup() {
        if (thread_.joinable()) thread_.join();
    }
    // Returns once the move is done and the thread has ended, after moving once more.
    void wait();
    CgroupMoveWarmup(const CgroupMoveWarmup&) = delete;
    CgroupMoveWarmup& operator=(const CgroupMoveWarmup&) = delete;

private:
    bool move_into_own_cgroup() const;

    std::filesystem::path procs_;  // cgroup.procs of the own cgroup, or empty when unknown
    bool moved_ = false;
    std::thread thread_;
};

}  // namespace isolab::kernel
