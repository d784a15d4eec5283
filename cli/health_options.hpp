#pragma once
// The health check options of `run` and `create`: --health-cmd, --health-interval,
// --health-timeout, --health-retries, --health-start-period, --health-start-interval
// and --no-healthcheck, as the docker CLI names them.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "runtime/image/store.hpp"

namespace isolab::cli {

struct HealthArguments {
    std::string command;
    std::string interval;
    std::string timeout;
    int retries = 0;
    std::string start_period;
    std::string start_interval;
    bool disabled = false;
};

// Adds the options to `command`, storing their values in `arguments`.
void add_health_options(CLI::App& command, HealthArguments& arguments);

// The Healthcheck the given options request, nullopt when none was given. Throws Error
// for invalid values.
std::optional<image::Healthcheck> requested_healthcheck(const HealthArguments& arguments, const CLI::App& command);

}  // namespace isolab::cli
