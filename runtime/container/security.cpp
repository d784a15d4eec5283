#include "runtime/container/security.hpp"

#include <sys/prctl.h>

#include <filesystem>

#include "runtime/container/options.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/linux/users.hpp"

namespace isolab::container {

namespace {

std::string read_file_if_present(const std::filesystem::path& path) {
    std::error_code error;
    return std::filesystem::exists(path, error) ? read_file(path) : std::string();
}

}  // namespace

ProcessSecurity process_security(const RunOptions& options) {
    ProcessSecurity security;
    if (options.privileged) {
        security.capabilities = kernel::all_capabilities();
        security.no_new_privileges = false;
        security.seccomp.reset();
        return security;
    }
    security.capabilities = kernel::resolve_capabilities(options.cap_add, options.cap_drop);
    if (!options.seccomp) {
        security.seccomp.reset();
    } else if (!options.seccomp_profile.empty()) {
        security.seccomp = kernel::parse_seccomp_profile(options.seccomp_profile, "stored with the container");
    }
    if (security.seccomp) {
        security.seccomp_program =
            kernel::cached_seccomp_program(*security.seccomp, security.capabilities, Paths::from_environment().cache / "seccomp");
    }
    return security;
}

void apply_security_option(std::string_view option, RunOptions& options) {
    // Docker accepts both "seccomp=VALUE" and the older "seccomp:VALUE".
    for (std::string_view prefix : {"seccomp=", "seccomp:"}) {
        if (option.rfind(prefix, 0) != 0) continue;
        std::string value(option.substr(prefix.size()));
        if (value == "unconfined") {
            options.seccomp = false;
            options.seccomp_profile.clear();
            return;
        }
        if (value.empty()) throw Error("invalid --security-opt '" + std::string(option) + "': no profile given",
                                       "use seccomp=unconfined or seccomp=PROFILE.json");
        kernel::read_seccomp_profile(value);
        options.seccomp = true;
        options.seccomp_profile = read_file(value);
        return;
    }
    // no_new_privs is always set unless --privileged, so these change nothing.
    if (option == "no-new-privileges" || option == "no-new-privileges=true" || option == "no-new-privileges:true") return;
    throw Error("unsupported --security-opt '" + std::string(option) + "'",
                "supported: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges");
}

void enter_process_security(const ProcessSecurity& security, const std::string& user, bool home_from_user,
                            std::vector<std::string>& env) {
    kernel::ContainerUser resolved;
    if (!user.empty()) {
        resolved = kernel::resolve_user(user, read_file_if_present("/etc/passwd"), read_file_if_present("/etc/group"));
        if (home_from_user && !resolved.home.empty()) env = merge_env(env, {"HOME=" + resolved.home});
    }

    kernel::limit_bounding_set(security.capabilities);
    if (!user.empty()) kernel::switch_user(resolved);
    // A non-root user keeps no capability in its effective set, as with Docker.
    kernel::set_capabilities(resolved.uid == 0 ? security.capabilities : std::vector<cap_value_t>{});

    if (security.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("set no_new_privs");
    if (security.seccomp_program) {
        kernel::load_seccomp_program(*security.seccomp_program);
    } else if (security.seccomp) {
        kernel::load_seccomp_profile(*security.seccomp, security.capabilities);
    }
}

}  // namespace isolab::container
