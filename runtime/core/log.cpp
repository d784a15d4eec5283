#include "runtime/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "runtime/core/error.hpp"

namespace isolab::log {

void init(std::string_view level) {
    auto parsed = spdlog::level::from_str(std::string(level));
    if (parsed == spdlog::level::off && level != "off") {
        throw Error("invalid log level '" + std::string(level) + "'",
                    "use one of trace, debug, info, warn, error, off");
    }
    auto logger = spdlog::stderr_color_mt("isolab");
    logger->set_pattern("isolab %^%l%$: %v");
    logger->set_level(parsed);
    spdlog::set_default_logger(logger);
}

}  // namespace isolab::log
