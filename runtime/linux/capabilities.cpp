#include "runtime/linux/capabilities.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

const std::vector<cap_value_t>& default_capabilities() {
    static const std::vector<cap_value_t> capabilities{
        CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,  CAP_FOWNER,           CAP_MKNOD,      CAP_NET_RAW, CAP_SETGID,
        CAP_SETUID, CAP_SETFCAP,      CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,    CAP_AUDIT_WRITE};
    return capabilities;
}

std::vector<cap_value_t> all_capabilities() {
    std::vector<cap_value_t> capabilities;
    for (cap_value_t value = 0; value <= CAP_LAST_CAP; ++value) {
        if (prctl(PR_CAPBSET_READ, value, 0, 0, 0) == 1) capabilities.push_back(value);
    }
    return capabilities;
}

std::vector<cap_value_t> parse_capability(const std::string& name) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "all") return all_capabilities();
    if (lower.rfind("cap_", 0) != 0) lower = "cap_" + lower;
    cap_value_t value = 0;
    if (cap_from_name(lower.c_str(), &value) != 0) {
        throw Error("unknown capability '" + name + "'", "use a name from capabilities(7), e.g. NET_ADMIN");
    }
    return {value};
}

std::vector<cap_value_t> resolve_capabilities(const std::vector<std::string>& add, const std::vector<std::string>& drop) {
    std::vector<cap_value_t> result = default_capabilities();
    for (const auto& name : drop) {
        for (auto value : parse_capability(name)) std::erase(result, value);
    }
    for (const auto& name : add) {
        for (auto value : parse_capability(name)) {
            if (std::find(result.begin(), result.end(), value) == result.end()) result.push_back(value);
        }
    }
    std::sort(result.begin(), result.end());
    return result;
}

void limit_bounding_set(const std::vector<cap_value_t>& keep) {
    for (cap_value_t value = 0; value <= CAP_LAST_CAP; ++value) {
        if (!CAP_IS_SUPPORTED(value) || std::find(keep.begin(), keep.end(), value) != keep.end()) continue;
        if (prctl(PR_CAPBSET_DROP, value, 0, 0, 0) != 0 && errno != EINVAL) {
            throw_errno("cannot drop " + capability_names({value}) + " from the bounding set");
        }
    }
    spdlog::debug("capabilities: bounding set is {}", capability_names(keep));
}

void set_capabilities(const std::vector<cap_value_t>& keep) {
    cap_t state = cap_init();
    if (state == nullptr) throw_errno("cap_init");
    bool ok = keep.empty() || (cap_set_flag(state, CAP_EFFECTIVE, static_cast<int>(keep.size()), keep.data(), CAP_SET) == 0 &&
                               cap_set_flag(state, CAP_PERMITTED, static_cast<int>(keep.size()), keep.data(), CAP_SET) == 0 &&
                               cap_set_flag(state, CAP_INHERITABLE, static_cast<int>(keep.size()), keep.data(), CAP_SET) == 0);
    int saved = errno;
    if (ok && cap_set_proc(state) != 0) {
        ok = false;
        saved = errno;
    }
    cap_free(state);
    if (!ok) throw_errno(saved, "cannot set the capabilities " + capability_names(keep));
    spdlog::debug("capabilities: effective and permitted set is {}", capability_names(keep));
}

std::string capability_names(const std::vector<cap_value_t>& capabilities) {
    std::string names;
    for (auto value : capabilities) {
        char* name = cap_to_name(value);
        if (!names.empty()) names += ',';
        names += name != nullptr ? name : std::to_string(value);
        if (name != nullptr) cap_free(name);
    }
    return names.empty() ? "(none)" : names;
}

}  // namespace isolab::kernel
