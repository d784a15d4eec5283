#pragma once
// One VM of a workload: vm::run on a thread of its own, so that the host can check the
// readiness rule (an output line, or HTTP or TCP through a published port) and stop a
// workload that keeps running once ready (a server). The scale series starts several.
#include <chrono>
#include <optional>

#include "bench/ready_gate.hpp"
#include "bench/results.hpp"
#include "bench/runner.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::bench {

struct VmInstance {
    RunSample sample;                           // readiness, phases, footprint and reported figures
    Clock::time_point started;                  // the start request
    std::optional<Clock::time_point> ready_at;  // when the readiness rule held
    vm::VmResult result;
};

// How long a VM may take to meet its readiness rule before it is destroyed and the run
// fails. Generous because one TCG boot takes tens of seconds on a loaded host.
inline constexpr std::chrono::seconds vm_ready_timeout{300};

// The guest root form a workload runs on: the disk form for a workload that writes into a
// volume on containers (io), because a VM keeps its data on its disk; the initramfs
// otherwise.
vm::guest::RootForm vm_root_form(const Workload& workload);

// Runs one VM of `workload` to its end: booted, ready and, for a workload that keeps
// running, destroyed once ready (after `gate` opens when given). A workload ready by a
// port gets a NIC on the isolab bridge with its port published on 127.0.0.1. Throws Error
// when the VM cannot start or never meets the readiness rule; the domain is gone then.
VmInstance run_vm_instance(image::Store& store, const RunnerSettings& settings, const Workload& workload,
                           ReadyGate* gate);

}  // namespace isolab::bench
