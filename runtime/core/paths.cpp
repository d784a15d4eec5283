#include "runtime/core/paths.hpp"

#include <unistd.h>

#include <cstdlib>

#include "runtime/core/error.hpp"

namespace isolab {

namespace {

std::filesystem::path environment_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return std::filesystem::absolute(value);
    return fallback;
}

}  // namespace

Paths Paths::from_environment() {
    return Paths{environment_or("ISOLAB_ROOT", "/var/lib/isolab"),
                 environment_or("ISOLAB_CACHE", "/var/cache/isolab")};
}

void Paths::check() const {
    for (const auto& [path, variable] : {std::pair{root, "ISOLAB_ROOT"}, std::pair{cache, "ISOLAB_CACHE"}}) {
        std::error_code error;
        auto status = std::filesystem::status(path, error);
        if (error || status.type() == std::filesystem::file_type::not_found) continue;
        if (status.type() != std::filesystem::file_type::directory) {
            throw Error(std::string(variable) + " " + path.string() + " is not a directory",
                        std::string("set ") + variable + " to a directory, or unset it for the default");
        }
    }
}

std::filesystem::path executable_directory() {
    std::error_code error;
    auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) throw Error("cannot read /proc/self/exe: " + error.message());
    return self.parent_path();
}

std::filesystem::path init_binary() {
    if (const char* overridden = std::getenv("ISOLAB_INIT"); overridden && *overridden) {
        if (!std::filesystem::is_regular_file(overridden)) {
            throw Error(std::string("ISOLAB_INIT=") + overridden + " is not a file",
                        "point ISOLAB_INIT at an isolab-init binary, or unset it to use the one beside isolab");
        }
        return overridden;
    }
    for (auto candidate : {executable_directory() / "isolab-init",
                           executable_directory() / "../libexec/isolab/isolab-init"}) {
        if (std::filesystem::exists(candidate)) return std::filesystem::canonical(candidate);
    }
    throw Error("isolab-init not found beside " + executable_directory().string(),
                "rebuild with scripts/setup, or set ISOLAB_INIT to its path");
}

}  // namespace isolab
