#pragma once
// `isolab start -a`: starting a container under its monitor and staying attached to it.
#include <string>

#include "runtime/core/paths.hpp"

namespace isolab::container {

// Starts the container `name_or_id` under a monitor, prints the output of this run (not
// what earlier runs logged) until the container exits and returns its exit code. While
// attached, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to isolab go to the container's
// first process, as with Docker's --sig-proxy, which is on by default. Throws Error as
// start_container does.
int start_attached(const Paths& paths, const std::string& name_or_id);

}  // namespace isolab::container
