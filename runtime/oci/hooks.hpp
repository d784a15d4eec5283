#pragma once
// OCI hooks (config.md, "POSIX-platform Hooks"): programs run by the runtime at points of
// the container's lifecycle, with the container's state JSON on their stdin.
#include <string>
#include <vector>

#include "runtime/oci/spec.hpp"

namespace isolab::oci {

// Runs each hook in order with `state_json` on stdin, stdout and stderr inherited, and
// waits for it, killing it after its timeout. Throws Error naming the hook `stage`
// ("prestart", ...) and its path when one cannot start, exits non-zero or times out.
void run_hooks(const std::vector<OciHook>& hooks, const std::string& stage, const std::string& state_json);

// As run_hooks, but logs each failure as a warning and goes on: the spec lets poststart
// and poststop hooks fail without changing the container.
void run_hooks_warning(const std::vector<OciHook>& hooks, const std::string& stage, const std::string& state_json);

}  // namespace isolab::oci
