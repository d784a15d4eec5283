#include "runtime/container/health.hpp"

#include <algorithm>

#include "runtime/core/duration.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {

namespace {

// Docker's minimum for a health check duration other than 0.
constexpr std::int64_t minimum_health_duration = 1'000'000;

std::chrono::nanoseconds or_default(std::int64_t nanoseconds, std::chrono::nanoseconds fallback) {
    return nanoseconds > 0 ? std::chrono::nanoseconds(nanoseconds) : fallback;
}

}  // namespace

void to_json(nlohmann::json& json, const HealthResult& result) {
    json = {{"Start", result.start}, {"End", result.end}, {"ExitCode", result.exit_code}, {"Output", result.output}};
}

void from_json(const nlohmann::json& json, HealthResult& result) {
    result.start = json.value("Start", "");
    result.end = json.value("End", "");
    result.exit_code = json.value("ExitCode", 0);
    result.output = json.value("Output", "");
}

void to_json(nlohmann::json& json, const Health& health) {
    json = {{"Status", health.status}, {"FailingStreak", health.failing_streak}, {"Log", health.log}};
}

void from_json(const nlohmann::json& json, Health& health) {
    health.status = json.value("Status", "starting");
    health.failing_streak = json.value("FailingStreak", 0);
    health.log = json.value("Log", std::vector<HealthResult>{});
}

std::int64_t parse_health_duration(const std::string& text, const std::string& name) {
    auto nanoseconds = parse_duration(text);
    if (nanoseconds != 0 && nanoseconds < minimum_health_duration) {
        throw Error("invalid " + name + " '" + text + "': it must be 0 or at least 1ms", "e.g. 30s, 1m30s or 200ms");
    }
    return nanoseconds;
}

std::optional<image::Healthcheck> healthcheck_from_options(const HealthOptions& options) {
    bool any_setting = options.command || options.interval || options.timeout || options.start_period ||
                       options.start_interval || options.retries;
    if (options.disabled) {
        if (any_setting) {
            throw Error("--no-healthcheck conflicts with --health-* options", "drop --no-healthcheck or the --health-* options");
        }
        return image::Healthcheck{{"NONE"}};
    }
    if (!any_setting) return std::nullopt;

    image::Healthcheck healthcheck;
    if (options.command) {
        if (options.command->empty()) throw Error("invalid --health-cmd: it is empty", "e.g. --health-cmd 'wget -q localhost'");
        healthcheck.test = {"CMD-SHELL", *options.command};
    }
    if (options.interval) healthcheck.interval = parse_health_duration(*options.interval, "--health-interval");
    if (options.timeout) healthcheck.timeout = parse_health_duration(*options.timeout, "--health-timeout");
    if (options.start_period) healthcheck.start_period = parse_health_duration(*options.start_period, "--health-start-period");
    if (options.start_interval) {
        healthcheck.start_interval = parse_health_duration(*options.start_interval, "--health-start-interval");
    }
    if (options.retries) {
        if (*options.retries < 0) {
            throw Error("invalid --health-retries " + std::to_string(*options.retries) + ": it cannot be negative",
                        "give 0 for the default (3) or a positive number");
        }
        healthcheck.retries = *options.retries;
    }
    return healthcheck;
}

std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& from_image,
                                                    const std::optional<image::Healthcheck>& requested) {
    if (!requested) return from_image;
    if (!from_image) return requested;
    auto merged = *requested;
    if (merged.test.empty()) merged.test = from_image->test;
    if (merged.interval == 0) merged.interval = from_image->interval;
    if (merged.timeout == 0) merged.timeout = from_image->timeout;
    if (merged.start_period == 0) merged.start_period = from_image->start_period;
    if (merged.start_interval == 0) merged.start_interval = from_image->start_interval;
    if (merged.retries == 0) merged.retries = from_image->retries;
    return merged;
}

bool healthcheck_enabled(const std::optional<image::Healthcheck>& healthcheck) {
    return healthcheck && !healthcheck->test.empty() && healthcheck->test.front() != "NONE";
}

std::vector<std::string> health_probe_argv(const image::Healthcheck& healthcheck, const std::vector<std::string>& shell) {
    const auto& test = healthcheck.test;
    if (test.size() >= 2 && test.front() == "CMD") return {test.begin() + 1, test.end()};
    if (test.size() >= 2 && test.front() == "CMD-SHELL") {
        std::vector<std::string> argv = shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : shell;
        argv.insert(argv.end(), test.begin() + 1, test.end());
        return argv;
    }
    std::string shown;
    for (const auto& word : test) shown += (shown.empty() ? "" : " ") + word;
    throw Error("invalid health check test '" + shown + "'", "use [\"CMD\", ARGS...], [\"CMD-SHELL\", COMMAND] or [\"NONE\"]");
}

HealthSchedule health_schedule(const image::Healthcheck& healthcheck) {
    HealthSchedule schedule;
    schedule.interval = or_default(healthcheck.interval, default_health_interval);
    schedule.timeout = or_default(healthcheck.timeout, default_health_timeout);
    schedule.start_period = std::chrono::nanoseconds(std::max<std::int64_t>(healthcheck.start_period, 0));
    schedule.start_interval = or_default(healthcheck.start_interval, default_health_start_interval);
    schedule.retries = healthcheck.retries > 0 ? healthcheck.retries : default_health_retries;
    return schedule;
}

std::chrono::nanoseconds next_check_delay(const HealthSchedule& schedule, const Health& health,
                                          std::chrono::nanoseconds since_start) {
    if (since_start >= schedule.start_period) return schedule.interval;
    // The first check after the start period comes as soon as the period ends.
    auto remaining = schedule.start_period - since_start;
    if (remaining < schedule.interval) return remaining;
    return health.status == "starting" ? schedule.start_interval : schedule.interval;
}

void apply_health_result(Health& health, HealthResult result, int retries, bool within_start_period) {
    bool passed = result.exit_code == 0;
    health.log.push_back(std::move(result));
    if (health.log.size() > max_health_log_entries) {
        health.log.erase(health.log.begin(), health.log.end() - static_cast<std::ptrdiff_t>(max_health_log_entries));
    }
    if (passed) {
        health.failing_streak = 0;
        health.status = "healthy";
        return;
    }
    // A container that never passed a check may still fail while within its start period.
    if (health.status == "starting" && within_start_period) return;
    ++health.failing_streak;
    if (health.failing_streak >= retries) health.status = "unhealthy";
}

std::string health_status_text(const Health& health) {
    return health.status == "starting" ? "health: starting" : health.status;
}

}  // namespace isolab::container
