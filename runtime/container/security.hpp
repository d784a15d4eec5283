#pragma once
// What confines every process of a container, its first one and each `exec`: the
// capability set, no_new_privs and the seccomp profile, all derived from the stored
// request so that `exec` applies exactly what `run` applied.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/container/run_options.hpp"
#include "runtime/linux/capabilities.hpp"
#include "runtime/linux/seccomp_profile.hpp"

namespace isolab::container {

struct ProcessSecurity {
    std::vector<cap_value_t> capabilities = kernel::default_capabilities();
    bool no_new_privileges = true;
    std::optional<kernel::SeccompProfile> seccomp = kernel::default_seccomp_profile();  // nullopt: unconfined
    // The profile compiled before the container's process starts, so the process only
    // loads it; nullopt: the process compiles `seccomp` itself.
    std::optional<kernel::SeccompProgram> seccomp_program;
};

// Derives the security settings from --privileged, --cap-add, --cap-drop and
// --security-opt. Throws Error for an unknown capability or a stored profile that no
// longer parses.
ProcessSecurity process_security(const RunOptions& options);

// Applies one --security-opt value to `options`: seccomp=unconfined, seccomp=FILE (a
// profile in Docker's JSON format, read and checked now, stored as text) and
// no-new-privileges. Throws Error naming the option, file or JSON path.
void apply_security_option(std::string_view option, RunOptions& options);

// Resolves `user` (USER[:GROUP], empty: root) in this process's /etc/passwd and
// /etc/group, then limits the bounding set, switches to the user, sets the capabilities
// (none for a non-root user, as Docker does), sets no_new_privs and loads the seccomp
// filter, in that order. With `home_from_user`, HOME in `env` becomes the user's home.
void enter_process_security(const ProcessSecurity& security, const std::string& user, bool home_from_user,
                            std::vector<std::string>& env);

}  // namespace isolab::container
