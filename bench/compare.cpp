#include "bench/compare.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bench/host_info.hpp"
#include "bench/report.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/interrupt.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

std::vector<std::string> reference_names() { return {"crun", "runc", "podman", "qemu"}; }
std::vector<std::string> isolab_path_names() { return {"container", "vm"}; }

std::vector<int> scale_instance_counts(int scale_max) {
    std::vector<int> counts;
    for (int count = 1; count > 0 && count <= scale_max; count *= 2) counts.push_back(count);
    if (scale_max > 0 && counts.back() != scale_max) counts.push_back(scale_max);
    return counts;
}

namespace {

constexpr const char* run_order =
    "interleaved: each round runs every path once, in reverse order on every second round";

}  // namespace

void validate_compare_options(const CompareOptions& options) {
    if (options.runs < 1) {
        throw Error(fmt::format("invalid --runs {}: at least 1 run is needed", options.runs), "pass --runs 1 or more");
    }
    if (options.warmup < 0) {
        throw Error(fmt::format("invalid --warmup {}: it cannot be negative", options.warmup), "pass --warmup 0 or more");
    }
    // A guest kernel panics early with too little RAM. Paths that boot a guest need vm
    // run's minimum, and containers need the smallest limit that run accepts.
    auto named = [](const std::vector<std::string>& names, const char* name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    bool boots_guest = named(options.paths, "vm") || named(options.references, "qemu");
    std::uint64_t minimum_mib = boots_guest ? vm::libvirt::kMinimumMemoryMib : 6;
    if (options.memory_bytes < (minimum_mib << 20)) {
        bool whole_mib = options.memory_bytes % (1ULL << 20) == 0;
        std::string given_size =
            whole_mib ? fmt::format("{}M", options.memory_bytes >> 20) : human_size(options.memory_bytes);
        throw Error(fmt::format("invalid --memory {}: {} at least {}M", given_size,
                                boots_guest ? "a guest needs" : "a container limit is", minimum_mib),
                    "pass --memory 256M");
    }
    if (options.size_mib < 1) {
        throw Error(fmt::format("invalid --size {}: the mem and io workloads need at least 1 MiB", options.size_mib),
                    "pass --size 64");
    }
    auto needed_bytes = 2 * (static_cast<std::uint64_t>(options.size_mib) << 20) + (32ULL << 20);
    if (options.scenario_file.empty() && options.workload == "mem" && needed_bytes > options.memory_bytes) {
        // The shell builds the data in a pipe buffer and copies it into its variable once.
        throw Error(fmt::format("invalid --size {} for the mem workload: it needs about twice its size plus 32M, "
                                "more than --memory {}",
                                options.size_mib, human_size(options.memory_bytes)),
                    "pass a smaller --size or a larger --memory");
    }
    if (options.scale_max < 0) {
        throw Error(fmt::format("invalid --scale-max {}: it cannot be negative", options.scale_max),
                    "pass --scale-max 8, or 0 for no scale series");
    }
    auto isolab_paths = isolab_path_names();
    if (options.paths.empty()) throw Error("--paths names no path", "pass --paths container,vm");
    for (const auto& name : options.paths) {
        if (std::find(isolab_paths.begin(), isolab_paths.end(), name) == isolab_paths.end()) {
            throw Error("unknown path '" + name + "' in --paths", "choose from container, vm");
        }
    }
    auto known = reference_names();
    for (const auto& name : options.references) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            throw Error("unknown reference '" + name + "' in --with", "choose from crun, runc, podman, qemu");
        }
    }
}

namespace {

PathResult path_from_description(const PathDescription& description) {
    PathResult path;
    path.name = description.name;
    path.role = description.role;
    path.counterpart = description.counterpart;
    path.runtime = description.runtime;
    path.started_means = description.started_means;
    path.definitions = description.definitions;
    return path;
}

Settings settings_for(const CompareOptions& options, const Workload& workload) {
    Settings settings;
    settings.workload = workload.name;
    settings.image = workload.image;
    settings.command = workload.command;
    settings.readiness = workload.readiness_rule();
    settings.runs = options.runs;
    settings.warmup = options.warmup;
    settings.memory_bytes = options.memory_bytes;
    settings.accelerator_requested = options.accelerator;
    settings.connect_uri = options.connect_uri;
    settings.order = run_order;
    settings.size_mib = options.size_mib;
    settings.scenario_file = options.scenario_file;
    settings.scale_instances =
        workload.instance_counts.empty() ? scale_instance_counts(options.scale_max) : workload.instance_counts;
    return settings;
}


std::string progress_prefix(int round, const CompareOptions& options, const PathResult& path) {
    bool warmup = round < options.warmup;
    int number = warmup ? round + 1 : round - options.warmup + 1;
    int total = warmup ? options.warmup : options.runs;
    return fmt::format("{} {}/{} {}", warmup ? "warm-up" : "run", number, total, path.name);
}

std::string format_seconds(double milliseconds) { return fmt::format("{:.1f} s", milliseconds / 1000); }

// One run of one path. Reference failures mark the path unavailable; isolab ones throw.
void run_once(Runner& runner, PathResult& path, const Workload& workload, int round, const CompareOptions& options,
              const ProgressHandler& progress) {
    auto prefix = progress_prefix(round, options, path);
    if (progress) progress({prefix + ": running", false, false});
    auto start = Clock::now();
    try {
        auto sample = runner.run(workload);
        sample.index = path.runs.size();
        sample.warmup = round < options.warmup;
        if (progress) {
            progress({fmt::format("{}: {} (ready at {})", prefix, format_seconds(milliseconds_between(start, Clock::now())),
                                  format_figure(sample.figures.at(figure::startup), "ms")),
                      true, false});
        }
        path.runs.push_back(std::move(sample));
    } catch (const Error& error) {
        if (progress) {
            progress({fmt::format("{}: {} (failed: {})", prefix, format_seconds(milliseconds_between(start, Clock::now())),
                                  error.what()),
                      true, true});
        }
        // An interrupt ends the comparison, whichever path it reached.
        if (path.role != "reference" || InterruptGuard::requested()) throw;
        path.available = false;
        path.missing_reason = fmt::format("run {} failed: {}", path.runs.size() + 1, error.what());
        spdlog::warn("compare: {} is skipped from now on: {}", path.name, path.missing_reason);
    }
}

// The scale series of every isolab path: one point per instance count. A path that
// did not run gets points marked unavailable with its reason.
void run_scale(std::vector<std::unique_ptr<Runner>>& runners, Results& results, const Workload& workload,
               const ProgressHandler& progress) {
    for (std::size_t i = 0; i < runners.size(); ++i) {
        const auto& path = results.paths[i];
        if (path.role != "isolab") continue;
        ScaleSeries series;
        series.path = path.name;
        series.definitions = runners[i]->scale_definitions();
        for (int count : results.settings.scale_instances) {
            if (!path.available) {
                series.points.push_back({count, false, path.missing_reason, {}});
                continue;
            }
            auto prefix = fmt::format("scale {} x{}", path.name, count);
            if (progress) progress({prefix + ": running", false, false});
            auto start = Clock::now();
            auto point = runners[i]->run_together(workload, count);
            if (progress) {
                auto outcome = point.available
                                   ? "all ready at " + format_figure(point.figures.at(scale_figure::all_ready), "ms")
                                   : point.missing_reason;
                progress({fmt::format("{}: {} ({})", prefix, format_seconds(milliseconds_between(start, Clock::now())),
                                      outcome),
                          true, !point.available});
            }
            series.points.push_back(std::move(point));
        }
        results.scale.push_back(std::move(series));
    }
}

}  // namespace

Results run_compare_with(std::vector<std::unique_ptr<Runner>> runners, const CompareOptions& requested,
                         const Workload& workload, const ProgressHandler& progress) {
    // A scenario's repetitions replace --runs.
    auto options = requested;
    if (workload.repetitions > 0) options.runs = workload.repetitions;
    validate_compare_options(options);

    Results results;
    results.created = utc_timestamp();
    results.label = options.label;
    results.host = collect_host_info();
    results.settings = settings_for(options, workload);

    for (auto& runner : runners) {
        auto path = path_from_description(runner->description());
        auto reason = runner->unavailable_reason();
        if (!reason) reason = runner->unsupported_reason(workload);
        if (reason) {
            path.available = false;
            path.missing_reason = *reason;
            spdlog::info("compare: {} not measured: {}", path.name, *reason);
        }
        results.paths.push_back(std::move(path));
    }

    int rounds = options.warmup + options.runs;
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t step = 0; step < runners.size(); ++step) {
            std::size_t i = round % 2 == 0 ? step : runners.size() - 1 - step;
            if (!results.paths[i].available) continue;
            run_once(*runners[i], results.paths[i], workload, round, options, progress);
        }
    }

    run_scale(runners, results, workload, progress);
    compute_derived(results);
    return results;
}

fs::path default_results_directory() {
    return fs::current_path() / "results" / utc_timestamp("%Y%m%dT%H%M%SZ");
}

void write_results(const Results& results, const fs::path& directory) {
    std::error_code error;
    fs::create_directories(directory, error);
    if (error) {
        throw Error("cannot create results folder " + directory.string() + ": " + error.message(),
                    "pass a writable folder with -o");
    }
    write_file_atomic(directory / "results.json", to_json(results).dump(2) + "\n");
    write_file_atomic(directory / "report.md", render_markdown(results));
    write_file_atomic(directory / "report.html", render_html({results}));
    write_file_atomic(directory / "runs.csv", render_runs_csv(results));
    spdlog::debug("compare: wrote results.json, report.md, report.html and runs.csv into {}", directory.string());
}

}  // namespace isolab::bench
