#pragma once
// Logging through spdlog. At debug level every setup step logs what it did and with which
// value ("mount overlay on ... lowerdir=..."), so a student can watch a container or a VM
// being assembled step by step.
#include <spdlog/spdlog.h>

#include <string_view>

namespace isolab::log {

// Sets up the default logger on stderr at the named level (trace, debug, info, warn,
// error, off). Throws Error for an unknown level name.
void init(std::string_view level);

}  // namespace isolab::log
