#include "runtime/core/clock.hpp"

#include <ctime>

namespace isolab {

std::string utc_timestamp(const char* format) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[64];
    std::strftime(text, sizeof text, format, &utc);
    return text;
}

double milliseconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

void PhaseRecorder::mark(std::string name) { mark_at(std::move(name), Clock::now()); }

void PhaseRecorder::mark_at(std::string name, Clock::time_point when) {
    marks_.push_back({std::move(name), milliseconds_between(origin_, when), "host"});
}

void PhaseRecorder::mark_ms(std::string name, double at_ms, std::string source) {
    marks_.push_back({std::move(name), at_ms, std::move(source)});
}

double PhaseRecorder::at(const std::string& name) const {
    for (const auto& mark : marks_) {
        if (mark.name == name) return mark.at_ms;
    }
    return -1;
}

nlohmann::json PhaseRecorder::to_json() const {
    auto phases = nlohmann::json::array();
    for (const auto& mark : marks_) {
        phases.push_back({{"name", mark.name}, {"at_ms", mark.at_ms}, {"clock", mark.source}});
    }
    return phases;
}

}  // namespace isolab
