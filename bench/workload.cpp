#include "bench/workload.hpp"

#include <cstdlib>

#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

// Guest init lines share the console with the workload; they are not its output.
constexpr std::string_view guest_init_prefix = "isolab-init:";

Workload hello_workload() {
    Workload workload;
    workload.name = "hello";
    workload.image = "busybox";
    workload.command = {"/bin/sh", "-c", "read up rest </proc/uptime; echo \"isolab-ready uptime=$up\"; uname -r"};
    workload.ready_prefix = "isolab-ready";
    return workload;
}

std::string_view strip_carriage_return(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    return line;
}

}  // namespace

std::string Workload::readiness_rule() const {
    return "the host time at which the first output line starting with '" + ready_prefix + "' arrives";
}

bool Workload::is_ready_line(std::string_view line) const { return line.starts_with(ready_prefix); }

std::vector<std::string> workload_names() { return {"hello"}; }

Workload find_workload(const std::string& name) {
    if (name == "hello") return hello_workload();
    std::string known;
    for (const auto& candidate : workload_names()) known += (known.empty() ? "" : ", ") + candidate;
    throw Error("unknown workload '" + name + "'", "known workloads: " + known);
}

std::optional<double> parse_ready_uptime_ms(std::string_view line) {
    auto key = line.find("uptime=");
    if (key == std::string_view::npos) return std::nullopt;
    auto value = line.substr(key + 7);
    auto end = value.find_first_of(" \t\r\n");
    std::string number(value.substr(0, end));

    char* parsed_end = nullptr;
    double seconds = std::strtod(number.c_str(), &parsed_end);
    if (number.empty() || parsed_end != number.c_str() + number.size()) return std::nullopt;
    return seconds * 1000.0;
}

void ReadinessWatcher::on_line(std::string_view raw_line, Clock::time_point when) {
    auto line = strip_carriage_return(raw_line);
    if (line.starts_with(guest_init_prefix)) return;

    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
    if (expecting_kernel_ && !line.empty()) {
        kernel_release_ = std::string(line);
        expecting_kernel_ = false;
        return;
    }
    if (!ready_at_ && workload_.is_ready_line(line)) {
        ready_at_ = when;
        ready_uptime_ms_ = parse_ready_uptime_ms(line);
        expecting_kernel_ = true;
    }
}

std::optional<Clock::time_point> ReadinessWatcher::ready_at() const {
    std::lock_guard lock(mutex_);
    return ready_at_;
}

std::optional<double> ReadinessWatcher::ready_uptime_ms() const {
    std::lock_guard lock(mutex_);
    return ready_uptime_ms_;
}

std::string ReadinessWatcher::kernel_release() const {
    std::lock_guard lock(mutex_);
    return kernel_release_;
}

std::vector<std::string> ReadinessWatcher::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

}  // namespace isolab::bench
