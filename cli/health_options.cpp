#include "cli/health_options.hpp"

#include "runtime/container/health.hpp"

namespace isolab::cli {

void add_health_options(CLI::App& command, HealthArguments& arguments) {
    command.add_option("--health-cmd", arguments.command, "Command that checks health, run by the container's shell");
    command.add_option("--health-interval", arguments.interval, "Time between health checks, e.g. 30s or 200ms (default 30s)");
    command.add_option("--health-timeout", arguments.timeout,
                       "Time a health check may run before it is killed and counts as failed (default 30s)");
    command.add_option("--health-retries", arguments.retries, "Failures in a row that make the container unhealthy (default 3)");
    command.add_option("--health-start-period", arguments.start_period,
                       "Time after the start in which failures do not count yet (default 0s)");
    command.add_option("--health-start-interval", arguments.start_interval,
                       "Time between health checks during the start period (default 5s)");
    command.add_flag("--no-healthcheck", arguments.disabled, "Disable any health check, also the image's HEALTHCHECK");
}

std::optional<image::Healthcheck> requested_healthcheck(const HealthArguments& arguments, const CLI::App& command) {
    container::HealthOptions options;
    auto given = [&](const char* option) { return command.count(option) > 0; };
    if (given("--health-cmd")) options.command = arguments.command;
    if (given("--health-interval")) options.interval = arguments.interval;
    if (given("--health-timeout")) options.timeout = arguments.timeout;
    if (given("--health-retries")) options.retries = arguments.retries;
    if (given("--health-start-period")) options.start_period = arguments.start_period;
    if (given("--health-start-interval")) options.start_interval = arguments.start_interval;
    options.disabled = arguments.disabled;
    return container::healthcheck_from_options(options);
}

}  // namespace isolab::cli
