#include "bench/workload.hpp"

#include <algorithm>
#include <cstdlib>


namespace isolab::bench {

namespace {

// Guest init lines share the console with the workload; they are not its output.
constexpr std::string_view guest_init_prefix = "isolab-init:";

std::string_view strip_carriage_return(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    return line;
}

}  // namespace

std::string Workload::readiness_rule() const {
    switch (readiness) {
    case ReadinessKind::tcp_port:
        return "the host time at which a TCP connect from the host to the published port of container port " +
               std::to_string(port) + " first succeeds and stays open for 100 ms (tried every 10 ms)";
    case ReadinessKind::http_path:
        return "the host time at which the host first receives HTTP 200 for GET " + http_path +
               " through the published port of container port " + std::to_string(port) + " (tried every 10 ms)";
    case ReadinessKind::log_line:
        break;
    }
    return "the host time at which the first output line starting with '" + ready_prefix + "' arrives";
}

bool Workload::is_ready_line(std::string_view line) const {
    return readiness == ReadinessKind::log_line && line.starts_with(ready_prefix);
}

std::optional<std::pair<std::string, double>> parse_figure_line(std::string_view line) {
    constexpr std::string_view prefix = "isolab-figure ";
    if (!line.starts_with(prefix)) return std::nullopt;
    auto text = line.substr(prefix.size());
    auto equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) return std::nullopt;
    std::string number(text.substr(equals + 1));
    char* parsed_end = nullptr;
    double value = std::strtod(number.c_str(), &parsed_end);
    if (number.empty() || parsed_end != number.c_str() + number.size()) return std::nullopt;
    return std::make_pair(std::string(text.substr(0, equals)), value);
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
    if (auto figure = parse_figure_line(line)) {
        const auto& declared = workload_.reported_figures;
        if (std::find(declared.begin(), declared.end(), figure->first) != declared.end()) {
            figures_[figure->first] = figure->second;
        }
        return;
    }
    constexpr std::string_view note_prefix = "isolab-note ";
    if (line.starts_with(note_prefix)) {
        notes_.emplace_back(line.substr(note_prefix.size()));
        return;
    }
    // A workload ready by a port prints its kernel release as its first line.
    if (workload_.needs_published_port() && kernel_release_.empty() && !line.empty()) {
        kernel_release_ = std::string(line);
        return;
    }
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

std::map<std::string, double> ReadinessWatcher::reported_figures() const {
    std::lock_guard lock(mutex_);
    return figures_;
}

std::vector<std::string> ReadinessWatcher::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

std::vector<std::string> ReadinessWatcher::notes() const {
    std::lock_guard lock(mutex_);
    return notes_;
}

}  // namespace isolab::bench
