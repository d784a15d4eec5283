#include "bench/runner.hpp"

#include <algorithm>

#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

std::string last_lines(const std::vector<std::string>& lines, std::size_t count) {
    std::string text;
    auto first = lines.size() > count ? lines.size() - count : 0;
    for (auto i = first; i < lines.size(); ++i) text += (text.empty() ? "" : " | ") + lines[i];
    return text.empty() ? "(no output)" : text;
}

}  // namespace

std::string last_output(const ReadinessWatcher& watcher) { return last_lines(watcher.lines(), 5); }

std::optional<std::string> Runner::unsupported_reason(const Workload& workload) {
    if (workload.needs_published_port()) {
        return "not available: this path checks readiness only by output lines, and the workload is ready by a "
               "published port";
    }
    if (workload.stop_after_ready) {
        return "not available: the workload keeps running once ready, and this path cannot stop it";
    }
    return std::nullopt;
}

ScalePoint Runner::run_together(const Workload&, int count) {
    ScalePoint point;
    point.instances = count;
    point.available = false;
    point.missing_reason = "not available: " + description().name + " does not start instances together";
    return point;
}

void record_readiness(RunSample& sample, const ReadinessWatcher& watcher, Clock::time_point start,
                      const std::string& path_name) {
    auto ready_at = watcher.ready_at();
    if (!ready_at) {
        throw Error(path_name + ": the workload exited with code " + std::to_string(sample.exit_code) +
                        " without printing its readiness line; last output: " + last_lines(watcher.lines(), 5),
                    "run it alone with --log-level debug to see each step");
    }

    double startup_ms = milliseconds_between(start, *ready_at);
    sample.figures[figure::startup] = startup_ms;
    sample.phases.push_back({"ready", startup_ms, "host"});
    sample.kernel = watcher.kernel_release();
}

void record_phases(RunSample& sample, const PhaseRecorder& phases, Clock::time_point start) {
    double offset_ms = milliseconds_between(start, phases.origin());
    for (const auto& mark : phases.marks()) {
        sample.phases.push_back({mark.name, mark.at_ms + offset_ms, mark.source});
    }
    std::stable_sort(sample.phases.begin(), sample.phases.end(),
                     [](const PhaseSample& a, const PhaseSample& b) { return a.at_ms < b.at_ms; });
}

}  // namespace isolab::bench
