#pragma once
// compare: runs a workload N times on every path (isolab container, isolab VM and the
// reference tools), interleaved, after warm-up runs that are recorded but not counted,
// and writes results.json, report.md, report.html and runs.csv.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/results.hpp"
#include "bench/runner.hpp"
#include "runtime/image/store.hpp"

namespace isolab::bench {

// Names of the reference tools; `--with` takes a subset.
std::vector<std::string> reference_names();
// Names of isolab's own paths; `--paths` takes a subset.
std::vector<std::string> isolab_path_names();

// The instance counts of the scale series: 1, 2, 4 ... up to `scale_max`, then
// `scale_max` itself when it is not a power of two. Empty for 0.
std::vector<int> scale_instance_counts(int scale_max);

struct CompareOptions {
    std::string workload = "hello";
    int runs = 5;
    int warmup = 1;
    std::uint64_t memory_bytes = 256ULL << 20;
    std::string accelerator = "auto";
    // libvirt URI of the VM paths; "embedded": isolab's embedded QEMU driver under the state
    // root (vm::embedded_driver_uri), which starts a domain tens of seconds faster where
    // only root may open /dev/kvm.
    // NOTE: not the default, because the embedded driver deadlocked in the mem workload
    // (see ConsoleStream in vmdriver/libvirt/domain.cpp).
    std::string connect_uri = "qemu:///system";
    std::vector<std::string> references = reference_names();  // empty: none
    std::string label;   // identifies the source in merged reports
    int size_mib = 64;   // MiB the mem and io workloads allocate or write
    std::string scenario_file;  // a custom scenario (YAML or JSON) instead of `workload`
    int scale_max = 0;   // the scale series starts 1, 2, 4 ... up to this many instances; 0: none
    std::vector<std::string> paths = isolab_path_names();  // the isolab paths to run
};

// Throws Error for runs < 1, warmup < 0, size_mib < 1, scale_max < 0, an unknown path,
// and memory below vm run's minimum when a path boots a guest (vm, qemu), else below 6 MiB.
void validate_compare_options(const CompareOptions& options);

// One progress report for the user. Every run sends a line when it starts
// ("run 3/10 vm: running") and one when it ends ("run 3/10 vm: 61.2 s (ready at 812.4 ms)",
// the wall time of the whole run and the startup figure).
struct ProgressUpdate {
    std::string line;
    bool done = false;    // false while the run is under way
    bool failed = false;  // the run threw; `line` names the error
};
using ProgressHandler = std::function<void(const ProgressUpdate& update)>;

// Runs the compare with the given runners (isolab paths first, then references).
// Throws Error when an isolab path fails; a failing reference is recorded as
// unavailable with the reason and skipped from then on.
Results run_compare_with(std::vector<std::unique_ptr<Runner>> runners, const CompareOptions& options,
                         const Workload& workload, const ProgressHandler& progress);

// Builds the runners for `options` and runs the compare. Throws Error for invalid options.
Results run_compare(image::Store& store, const CompareOptions& options, const ProgressHandler& progress);

// results/<UTC timestamp> under the current folder, e.g. results/20260131T120000Z.
std::filesystem::path default_results_directory();

// Writes results.json, report.md, report.html and runs.csv into `directory` (created).
void write_results(const Results& results, const std::filesystem::path& directory);

// Reference runners by name; unknown names throw Error naming the known ones.
std::vector<std::unique_ptr<Runner>> make_reference_runners(const std::vector<std::string>& names,
                                                            image::Store& store, const RunnerSettings& settings);

}  // namespace isolab::bench
