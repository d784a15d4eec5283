#include "bench/compare.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bench/host_info.hpp"
#include "bench/report.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

std::vector<std::string> reference_names() { return {"crun", "runc", "podman", "qemu"}; }

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
    if (options.memory_bytes < (16ULL << 20)) {
        throw Error("invalid --memory " + human_size(options.memory_bytes) + ": the guest kernel needs at least 16M",
                    "pass --memory 256M");
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
        if (path.role != "reference") throw;
        path.available = false;
        path.missing_reason = fmt::format("run {} failed: {}", path.runs.size() + 1, error.what());
        spdlog::warn("compare: {} is skipped from now on: {}", path.name, path.missing_reason);
    }
}

}  // namespace

Results run_compare_with(std::vector<std::unique_ptr<Runner>> runners, const CompareOptions& options,
                         const Workload& workload, const ProgressHandler& progress) {
    validate_compare_options(options);

    Results results;
    results.created = utc_timestamp();
    results.label = options.label;
    results.host = collect_host_info();
    results.settings = settings_for(options, workload);

    for (auto& runner : runners) {
        auto path = path_from_description(runner->description());
        if (auto reason = runner->unavailable_reason()) {
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
