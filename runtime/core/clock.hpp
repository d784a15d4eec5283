#pragma once
// PhaseRecorder: named points in time on the host's monotonic clock, shared by the
// container and the VM paths so a report can show both start-ups phase by phase.
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace isolab {

using Clock = std::chrono::steady_clock;

// The current UTC time formatted with strftime's `format`; by default RFC 3339 to the
// second, e.g. 2026-12-04T23:14:11Z.
std::string utc_timestamp(const char* format = "%Y-%m-%dT%H:%M:%SZ");

// Milliseconds between two time points, as a double.
double milliseconds_between(Clock::time_point from, Clock::time_point to);

struct PhaseMark {
    std::string name;      // e.g. "namespaces", "kernel-start"
    double at_ms = 0;      // milliseconds since the recorder's origin
    std::string source;    // "host" (monotonic clock) or "guest" (guest uptime)
};

class PhaseRecorder {
public:
    PhaseRecorder() : origin_(Clock::now()) {}
    explicit PhaseRecorder(Clock::time_point origin) : origin_(origin) {}

    // Records that phase `name` ended now, on the host clock.
    void mark(std::string name);
    // Records a phase at a given host time point.
    void mark_at(std::string name, Clock::time_point when);
    // Records a phase measured by another clock, already as milliseconds since origin.
    void mark_ms(std::string name, double at_ms, std::string source);

    Clock::time_point origin() const { return origin_; }
    const std::vector<PhaseMark>& marks() const { return marks_; }
    // Milliseconds since origin of the named mark, or a negative value when absent.
    double at(const std::string& name) const;

    nlohmann::json to_json() const;

private:
    Clock::time_point origin_;
    std::vector<PhaseMark> marks_;
};

}  // namespace isolab
