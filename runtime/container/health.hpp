#pragma once
// Health checks as Docker runs them: the settings from the image's HEALTHCHECK, overridden
// by `run --health-*` or a compose file, and the health that a container's owner records
// in state.json after each check. The schedule and the status rules follow Docker's daemon
// (daemon/health.go in moby). The first check runs one interval after the start. A passing
// check makes the container healthy, and `retries` failures in a row make it unhealthy,
// except failures within the start period while it is still starting.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/image/store.hpp"

namespace isolab::container {

// Docker's defaults for the zero values of a Healthcheck.
inline constexpr std::chrono::nanoseconds default_health_interval = std::chrono::seconds(30);
inline constexpr std::chrono::nanoseconds default_health_timeout = std::chrono::seconds(30);
inline constexpr std::chrono::nanoseconds default_health_start_interval = std::chrono::seconds(5);
inline constexpr int default_health_retries = 3;
// Docker keeps the last 5 results and the first 4096 bytes of each check's output.
inline constexpr std::size_t max_health_log_entries = 5;
inline constexpr std::size_t max_health_output_bytes = 4096;

// One check, as State.Health.Log shows it.
struct HealthResult {
    std::string start;       // RFC 3339, UTC
    std::string end;
    int exit_code = 0;       // 0 passed; -1 when it timed out or could not be executed
    std::string output;      // stdout and stderr together, truncated
};

// State.Health of a container.
struct Health {
    std::string status = "starting";   // starting, healthy or unhealthy
    int failing_streak = 0;
    std::vector<HealthResult> log;     // oldest first, at most max_health_log_entries
};

// State.Health in Docker's shape: Status, FailingStreak, Log [{Start, End, ExitCode, Output}].
void to_json(nlohmann::json& json, const HealthResult& result);
void from_json(const nlohmann::json& json, HealthResult& result);
void to_json(nlohmann::json& json, const Health& health);
void from_json(const nlohmann::json& json, Health& health);

// The `run` options that set a health check; unset ones come from the image.
struct HealthOptions {
    std::optional<std::string> command;         // --health-cmd, run by the container's shell
    std::optional<std::string> interval;        // --health-interval, a duration such as 30s
    std::optional<std::string> timeout;         // --health-timeout
    std::optional<std::string> start_period;    // --health-start-period
    std::optional<std::string> start_interval;  // --health-start-interval
    std::optional<int> retries;                 // --health-retries
    bool disabled = false;                      // --no-healthcheck
};

// The Healthcheck that the options request, nullopt when none was given, as the docker
// CLI builds it. Throws Error for a duration that is not 0 or at least 1 ms, negative
// retries, or --no-healthcheck together with another health option.
std::optional<image::Healthcheck> healthcheck_from_options(const HealthOptions& options);

// Parses the duration `text` of the option `name` ("--health-interval") into nanoseconds.
// Throws Error unless it is 0 (the default) or at least 1 ms, the minimum Docker accepts.
std::int64_t parse_health_duration(const std::string& text, const std::string& name);

// The container's Healthcheck: the request's fields where set, the image's otherwise, as
// Docker merges them at create. nullopt when neither has one.
std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& from_image,
                                                    const std::optional<image::Healthcheck>& requested);

// True when `healthcheck` runs a command: it is set and its test is not empty or NONE.
bool healthcheck_enabled(const std::optional<image::Healthcheck>& healthcheck);

// The argv of a check: ["CMD", argv...] runs argv, ["CMD-SHELL", text] runs `shell` (the
// image's SHELL, default /bin/sh -c) with the text. Throws Error for another form.
std::vector<std::string> health_probe_argv(const image::Healthcheck& healthcheck, const std::vector<std::string>& shell);

// Settings with Docker's defaults in place of zero values.
struct HealthSchedule {
    std::chrono::nanoseconds interval = default_health_interval;
    std::chrono::nanoseconds timeout = default_health_timeout;
    std::chrono::nanoseconds start_period{0};
    std::chrono::nanoseconds start_interval = default_health_start_interval;
    int retries = default_health_retries;
};
HealthSchedule health_schedule(const image::Healthcheck& healthcheck);

// The wait before the next check: start_interval while the container is still starting
// within its start period, interval otherwise, but never past the end of the start
// period when that ends before the next interval.
std::chrono::nanoseconds next_check_delay(const HealthSchedule& schedule, const Health& health,
                                          std::chrono::nanoseconds since_start);

// Adds one result to `health` and updates its status and failing streak.
// `within_start_period`: the check started before the start period ended.
void apply_health_result(Health& health, HealthResult result, int retries, bool within_start_period);

// The health part of `ps` STATUS: "health: starting", "healthy" or "unhealthy".
std::string health_status_text(const Health& health);

}  // namespace isolab::container
