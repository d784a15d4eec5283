#pragma once
// The thread that runs a container's health check on its schedule while the container
// runs, owned by the container's owner (the monitor, or `isolab run` in the foreground).
// Each check is an exec_probe in the container; each result goes into state.json under
// the container's state lock.
#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "runtime/container/health.hpp"
#include "runtime/container/record.hpp"

namespace isolab::container {

// Sets the recorded health to "starting" with no failing streak, keeping the log, as
// Docker does at each start. Removes it when the container has no health check.
void reset_health(ContainerState& state, const ContainerConfig& config);

class HealthChecker {
public:
    // Starts checking the container whose first process is `pid`, when its config has an
    // enabled health check; does nothing otherwise. The state must already record the
    // start of that process (status running, pid and started_at).
    HealthChecker(const ContainerConfig& config, const ContainerPaths& paths, pid_t pid);
    // Stops: kills a check in progress and joins the thread, so nothing is recorded after.
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

private:
    // The thread's body: waits, checks and records until a stop is requested or the
    // first process pid_ ended.
    void run(std::stop_token stop);
    HealthResult check(std::stop_token stop, const HealthSchedule& schedule);

    ContainerConfig config_;
    ContainerPaths paths_;
    pid_t pid_;
    std::mutex mutex_;
    std::condition_variable_any wakeup_;
    std::jthread thread_;   // last: it starts after the fields above are set
};

}  // namespace isolab::container
