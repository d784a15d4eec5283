#pragma once
// One container of a workload, run on a thread of its own so that the host can check the
// readiness rule, sample the container's memory while it runs and stop a workload that
// keeps running once ready (a server). The scale series starts several at once.
#include <cstdint>
#include <optional>

#include "bench/ready_gate.hpp"
#include "bench/results.hpp"
#include "bench/runner.hpp"
#include "runtime/container/run.hpp"

namespace isolab::bench {

struct ContainerInstance {
    RunSample sample;
    Clock::time_point started;                 // the start request
    std::optional<Clock::time_point> ready_at;  // when the readiness rule held
    std::uint64_t memory_peak_bytes = 0;
    std::uint64_t upper_dir_bytes = 0;
};

// How long a container may take to meet its readiness rule before it is stopped and the
// run fails.
inline constexpr std::chrono::seconds container_ready_timeout{120};

// Runs one container of `workload` to its end: started, ready, sampled and, for a
// workload that keeps running, killed once ready (after `gate` opens when given).
// Throws Error when the container cannot start or never meets the readiness rule.
ContainerInstance run_container_instance(image::Store& store, const RunnerSettings& settings,
                                         const Workload& workload, ReadyGate* gate);

}  // namespace isolab::bench
