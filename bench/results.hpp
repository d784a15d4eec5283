#pragma once
// The results of a compare: per path (the isolab container, the isolab VM and the
// reference tools run beside them) every run's figures and phases, their summaries, the
// ratios between paths, the host and the settings. results.json is this structure
// (docs/results-schema.md); reports are rendered from it alone.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/statistics.hpp"

namespace isolab::bench {

// Bump when a field changes meaning or is removed; adding fields keeps the version.
inline constexpr int results_schema_version = 2;

// Keys of the figures a run can carry.
namespace figure {
inline constexpr const char* startup = "startup_ms";
inline constexpr const char* guest_uptime_at_ready = "guest_uptime_at_ready_ms";
inline constexpr const char* memory_peak = "memory_peak_bytes";
inline constexpr const char* guest_memory = "guest_memory_bytes";
inline constexpr const char* disk = "disk_bytes";
inline constexpr const char* disk_image = "disk_image_bytes";
inline constexpr const char* disk_upper = "disk_upper_bytes";
inline constexpr const char* disk_kernel = "disk_kernel_bytes";
inline constexpr const char* disk_initramfs = "disk_initramfs_bytes";
inline constexpr const char* disk_base = "disk_base_bytes";
inline constexpr const char* disk_overlay = "disk_overlay_bytes";
inline constexpr const char* memory_working_set = "memory_working_set_bytes";
inline constexpr const char* memory_pss = "memory_pss_bytes";
inline constexpr const char* memory_guest_ram_touched = "memory_guest_ram_touched_bytes";
inline constexpr const char* memory_vmm_overhead = "memory_vmm_overhead_bytes";
inline constexpr const char* cpu_run = "cpu_run_ms";
inline constexpr const char* io_rootfs_write = "io_rootfs_write_ms";
inline constexpr const char* io_rootfs_read = "io_rootfs_read_ms";
inline constexpr const char* io_volume_write = "io_volume_write_ms";
inline constexpr const char* io_volume_read = "io_volume_read_ms";
}  // namespace figure

// Keys of the figures of one point of a scale series.
namespace scale_figure {
inline constexpr const char* all_ready = "all_ready_ms";
inline constexpr const char* memory_total = "memory_total_bytes";
inline constexpr const char* disk_total = "disk_total_bytes";
}  // namespace scale_figure

struct FigureDefinition {
    std::string key;
    std::string label;       // short, for tables: "startup"
    std::string unit;        // "ms" or "bytes"
    std::string definition;  // what it measures, independent of the path
};

// Every figure compare records, in report order.
const std::vector<FigureDefinition>& figure_catalog();
// The catalog entry of `key`; throws Error for an unknown key.
const FigureDefinition& figure_definition(const std::string& key);
// Every figure of a scale point, in report order.
const std::vector<FigureDefinition>& scale_figure_catalog();

struct PhaseSample {
    std::string name;
    double at_ms = 0;     // since the start request, on the host's monotonic clock
    std::string clock;    // "host", or "guest" when mapped from guest uptime (see docs)
};

struct RunSample {
    std::size_t index = 0;       // position among this path's runs, warm-up runs first
    bool warmup = false;         // recorded, never counted in summaries
    int exit_code = -1;
    std::map<std::string, double> figures;
    std::vector<PhaseSample> phases;
    std::string kernel;          // the workload's `uname -r` output
    std::string accelerator;     // VM paths: "kvm" or "tcg"
    std::string accelerator_reason;
    std::string cgroup_version;  // container paths: "v1" or "v2"
    std::vector<std::string> notes;  // the workload's "isolab-note TEXT" lines, e.g. where io wrote
};

// One way of running the workload: an isolab path or a reference tool.
struct PathResult {
    std::string name;           // "container", "vm", "crun", "runc", "podman", "qemu"
    std::string role;           // "isolab" or "reference"
    std::string counterpart;    // references: the isolab path they are compared with
    std::string runtime;        // what ran it, e.g. "isolab 0.1.0", "crun 1.8.1"
    bool available = true;
    std::string missing_reason; // why an unavailable path did not run
    std::string started_means;  // what "started" means on this path
    std::map<std::string, std::string> definitions;  // figure key -> how this path measures it
    std::vector<RunSample> runs;

    // Derived from the counted (non warm-up) runs.
    std::map<std::string, Summary> summaries;
    std::vector<PhaseSample> median_phases;  // each phase's median at_ms, sorted by time

    std::string kernel() const;              // of the first run that printed one
    std::string accelerator() const;
    std::string accelerator_reason() const;
    std::string cgroup_version() const;
    std::optional<double> median(const std::string& figure_key) const;
};

struct Ratio {
    std::string figure;     // figure key
    std::string path;       // numerator
    std::string reference;  // denominator
    double value = 0;       // median(path) / median(reference)
};

// N instances of the workload started together on one path.
struct ScalePoint {
    int instances = 0;
    bool available = true;
    std::string missing_reason;          // why this point was not measured
    std::map<std::string, double> figures;  // scale figure key -> value
};

struct ScaleSeries {
    std::string path;                    // "container" or "vm"
    std::map<std::string, std::string> definitions;  // scale figure key -> how this path measures it
    std::vector<ScalePoint> points;      // by increasing instance count
};

struct HostInfo {
    std::string cpu_model;
    unsigned cpu_count = 0;
    std::uint64_t memory_total_bytes = 0;
    std::string kernel;            // uname -r
    std::string os;                // PRETTY_NAME of /etc/os-release
    std::string cgroup_version;    // "v1" (including hybrid) or "v2"
    std::string qemu_version;
    std::string libvirt_version;
    std::string isolab_version;
    std::map<std::string, std::string> tool_versions;  // crun, runc, podman
};

struct Settings {
    std::string workload;
    std::string image;
    std::vector<std::string> command;
    std::string readiness;
    int runs = 0;
    int warmup = 0;
    std::uint64_t memory_bytes = 0;
    std::string accelerator_requested;
    std::string connect_uri;
    std::string order;   // how runs of the paths were interleaved
    int size_mib = 0;    // MiB the mem and io workloads allocate or write
    std::string scenario_file;  // the custom scenario's file; empty for a built-in workload
    std::vector<int> scale_instances;  // instance counts of the scale series; empty: none
};

struct Results {
    int schema_version = results_schema_version;
    std::string created;   // UTC, RFC 3339
    std::string label;     // free text identifying the source (host name, student)
    HostInfo host;
    Settings settings;
    std::vector<PathResult> paths;
    std::vector<Ratio> ratios;
    std::vector<ScaleSeries> scale;

    const PathResult* find_path(const std::string& name) const;
};

// Recomputes summaries, median phases and ratios from the runs.
void compute_derived(Results& results);

nlohmann::json to_json(const Results& results);
// Reads results.json content. Throws Error when the schema version is newer than this
// isolab understands or a required field is missing.
Results results_from_json(const nlohmann::json& document);
Results load_results(const std::string& path);

}  // namespace isolab::bench
