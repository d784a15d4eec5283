#pragma once
// Runner: one way of running a workload once and measuring it. The isolab container and
// VM paths and the reference tools (crun, runc, podman, bare QEMU) all implement it, so
// compare and the reports treat every path alike and never ask which one they show.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bench/results.hpp"
#include "bench/workload.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/image/store.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::bench {

// The fixed facts of a path, known before it runs.
struct PathDescription {
    std::string name;
    std::string role;          // "isolab" or "reference"
    std::string counterpart;   // references: the isolab path compared with them
    std::string runtime;       // program and version
    std::string started_means;
    std::map<std::string, std::string> definitions;  // figure key -> how this path measures it
};

// Settings every runner of one compare shares.
struct RunnerSettings {
    std::uint64_t memory_bytes = 256ULL << 20;
    vm::Accelerator accelerator = vm::Accelerator::automatic;
    std::string connect_uri = "qemu:///system";
    // The accelerator the isolab VM path chose last, shared with the bare QEMU runner so
    // both run the guest the same way.
    std::shared_ptr<vm::AcceleratorVerdict> vm_verdict = std::make_shared<vm::AcceleratorVerdict>();
};

class Runner {
public:
    virtual ~Runner() = default;

    virtual const PathDescription& description() const = 0;

    // Why this path cannot run on this host (a tool or an input is missing); nothing when
    // it can. Checked once before the first run.
    virtual std::optional<std::string> unavailable_reason() { return std::nullopt; }

    // Why this path cannot run `workload`; nothing when it can. The default accepts only
    // workloads that are ready by an output line and exit on their own.
    virtual std::optional<std::string> unsupported_reason(const Workload& workload);

    // Runs the workload once to completion and measures it. Throws Error when the path
    // fails or the workload never prints its readiness line.
    virtual RunSample run(const Workload& workload) = 0;

    // Starts `count` instances of `workload` together and measures them as one point of
    // the scale series. The default marks the point unavailable: the path does not scale.
    virtual ScalePoint run_together(const Workload& workload, int count);
    // Scale figure key -> how this path measures it.
    virtual std::map<std::string, std::string> scale_definitions() const { return {}; }
};

std::unique_ptr<Runner> make_container_runner(image::Store& store, const RunnerSettings& settings);
std::unique_ptr<Runner> make_vm_runner(image::Store& store, const RunnerSettings& settings);

// Reference runners: `program` is "crun" or "runc".
std::unique_ptr<Runner> make_oci_runner(const std::string& program, image::Store& store,
                                        const RunnerSettings& settings);
std::unique_ptr<Runner> make_podman_runner(image::Store& store, const RunnerSettings& settings);
std::unique_ptr<Runner> make_qemu_runner(image::Store& store, const RunnerSettings& settings);

// Fills a sample's startup figure and its "ready" phase from the watcher, with
// `start` as the moment of the start request. Throws Error with the output received
// when the readiness line never arrived.
void record_readiness(RunSample& sample, const ReadinessWatcher& watcher, Clock::time_point start,
                      const std::string& path_name);

// The last five output lines the watcher received, joined by " | ", for error messages.
std::string last_output(const ReadinessWatcher& watcher);

// Copies `phases` into the sample with times moved from the recorder's origin to `start`.
void record_phases(RunSample& sample, const PhaseRecorder& phases, Clock::time_point start);

}  // namespace isolab::bench
