#pragma once
// Workloads: what compare runs on both paths. A workload names an image, a command and a
// readiness rule. The command prints a readiness line and then the kernel release
// (`uname -r`), so the same output shows when the workload was ready and which kernel
// it ran on, inside a container or a VM alike.
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"

namespace isolab::bench {

struct Workload {
    std::string name;
    std::string image;
    std::vector<std::string> command;
    std::string ready_prefix;   // readiness: the first output line starting with this

    // One sentence describing the readiness rule, for results and reports.
    std::string readiness_rule() const;
    bool is_ready_line(std::string_view line) const;
};

// Returns the workload named `name`. Throws Error listing the known names otherwise.
Workload find_workload(const std::string& name);
std::vector<std::string> workload_names();

// Parses "uptime=<seconds>" from a readiness line such as "isolab-ready uptime=0.83"
// into milliseconds; nothing when the line carries no uptime.
std::optional<double> parse_ready_uptime_ms(std::string_view line);

// Watches a workload's output lines as they arrive (from any thread) and keeps the host
// time of the readiness line, the uptime it carries and the kernel release printed on
// the next line.
class ReadinessWatcher {
public:
    explicit ReadinessWatcher(Workload workload) : workload_(std::move(workload)) {}

    void on_line(std::string_view line, Clock::time_point when);

    std::optional<Clock::time_point> ready_at() const;
    std::optional<double> ready_uptime_ms() const;
    std::string kernel_release() const;
    // Every line received, for error messages when the workload never became ready.
    std::vector<std::string> lines() const;

private:
    Workload workload_;
    mutable std::mutex mutex_;
    std::optional<Clock::time_point> ready_at_;
    std::optional<double> ready_uptime_ms_;
    std::string kernel_release_;
    bool expecting_kernel_ = false;
    std::vector<std::string> lines_;
};

}  // namespace isolab::bench
