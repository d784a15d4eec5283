#pragma once
// The "Are you sure?" confirmation of the commands that delete (system, image and volume
// prune), in the words Docker uses.
#include <string>

namespace isolab::cli {

// Asks on the terminal whether to go on and returns true for y or yes. Without a
// terminal on stdin it throws Error telling to pass --force to `command`.
bool confirm_continue(const std::string& command);

}  // namespace isolab::cli
