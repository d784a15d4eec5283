#include "runtime/container/health_checker.hpp"

#include <chrono>

#include "runtime/container/exec.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/duration.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::container {

void reset_health(ContainerState& state, const ContainerConfig& config) {
    if (!healthcheck_enabled(config.healthcheck)) {
        state.health.reset();
        return;
    }
    if (!state.health) state.health = Health{};
    state.health->status = "starting";
    state.health->failing_streak = 0;
}

HealthChecker::HealthChecker(const ContainerConfig& config, const ContainerPaths& paths, pid_t pid)
    : config_(config), paths_(paths), pid_(pid) {
    if (!healthcheck_enabled(config_.healthcheck)) return;
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

HealthChecker::~HealthChecker() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
}

void HealthChecker::run(std::stop_token stop) {
    auto schedule = health_schedule(*config_.healthcheck);
    auto started = std::chrono::steady_clock::now();
    auto pid_start_ticks = process_start_ticks(pid_);
    std::string status = "starting";
    try {
        while (true) {
            Health current;
            current.status = status;
            auto delay = next_check_delay(schedule, current, std::chrono::steady_clock::now() - started);
            {
                std::unique_lock lock(mutex_);
                wakeup_.wait_for(lock, stop, delay, [] { return false; });
            }
            if (stop.stop_requested()) return;

            bool within_start_period = std::chrono::steady_clock::now() - started < schedule.start_period;
            auto result = check(stop, schedule);
            if (stop.stop_requested()) return;
            auto recorded = update_state_if(paths_, [&](ContainerState& state) {
                // Nothing is recorded once the first process ended, even before its owner
                // recorded the exit. NOTE: a check that fails while the first process is
                // still shutting down is recorded as a failure, as Docker records it.
                if (state.status != "running" || state.pid != pid_ || !process_alive(pid_, pid_start_ticks)) return false;
                if (!state.health) state.health = Health{};
                apply_health_result(*state.health, result, schedule.retries, within_start_period);
                if (state.health->status != status) {
                    spdlog::info("container {} is {} (failing streak {})", config_.id, state.health->status,
                                 state.health->failing_streak);
                }
                status = state.health->status;
                return true;
            });
            if (!recorded) return;
        }
    } catch (const std::exception& error) {
        // The state folder went away (rm -f) or state.json became unreadable: stop checking.
        spdlog::warn("health checks of container {} stopped: {}", config_.id, error.what());
    }
}

HealthResult HealthChecker::check(std::stop_token stop, const HealthSchedule& schedule) {
    HealthResult result;
    result.start = rfc3339_now();
    try {
        StoredContainer container{config_, {}, paths_};
        container.state.status = "running";
        container.state.pid = pid_;
        auto probe = exec_probe(container, health_probe_argv(*config_.healthcheck, config_.shell), schedule.timeout,
                                max_health_output_bytes, stop);
        // Docker marks cut output with "..." after the kept bytes.
        auto output = probe.output + (probe.truncated ? "..." : "");
        result.exit_code = probe.timed_out ? -1 : probe.exit_code;
        result.output = output;
        if (probe.timed_out) {
            result.output = "Health check exceeded timeout (" + format_duration(schedule.timeout.count()) + ")";
            if (!output.empty()) result.output += ": " + output;
        }
    } catch (const Error& error) {
        // As in Docker, a check that could not be executed is a failure with exit code -1.
        spdlog::debug("health check of container {} failed to run: {}", config_.id, error.one_line());
        result.exit_code = -1;
        result.output = error.what();
    }
    result.end = rfc3339_now();
    return result;
}

}  // namespace isolab::container
