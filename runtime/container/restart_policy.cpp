#include "runtime/container/restart_policy.hpp"

#include <charconv>
#include <string>

#include "runtime/core/error.hpp"

namespace isolab::container {

namespace {

[[noreturn]] void reject(std::string_view text) {
    throw Error("invalid restart policy '" + std::string(text) + "'",
                "use no, on-failure, on-failure:N (N retries), always or unless-stopped");
}

}  // namespace

RestartPolicy parse_restart_policy(std::string_view text) {
    RestartPolicy policy;
    if (text.empty() || text == "no") return policy;
    if (text == "always") {
        policy.kind = RestartPolicy::Kind::always;
        return policy;
    }
    if (text == "unless-stopped") {
        policy.kind = RestartPolicy::Kind::unless_stopped;
        return policy;
    }
    constexpr std::string_view on_failure = "on-failure";
    if (text.substr(0, on_failure.size()) != on_failure) reject(text);
    policy.kind = RestartPolicy::Kind::on_failure;
    auto rest = text.substr(on_failure.size());
    if (rest.empty()) return policy;
    if (rest.front() != ':' || rest.size() == 1) reject(text);
    auto digits = rest.substr(1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), policy.maximum_retries);
    if (error != std::errc() || end != digits.data() + digits.size() || policy.maximum_retries < 0) reject(text);
    return policy;
}

std::string_view restart_policy_name(const RestartPolicy& policy) {
    switch (policy.kind) {
        case RestartPolicy::Kind::on_failure: return "on-failure";
        case RestartPolicy::Kind::always: return "always";
        case RestartPolicy::Kind::unless_stopped: return "unless-stopped";
        case RestartPolicy::Kind::no: break;
    }
    return "no";
}

bool should_restart(const RestartPolicy& policy, int exit_code, int restart_count, bool manually_stopped) {
    if (manually_stopped) return false;
    switch (policy.kind) {
        case RestartPolicy::Kind::no: return false;
        case RestartPolicy::Kind::always:
        case RestartPolicy::Kind::unless_stopped: return true;
        case RestartPolicy::Kind::on_failure:
            return exit_code != 0 && (policy.maximum_retries == 0 || restart_count < policy.maximum_retries);
    }
    return false;
}

std::chrono::milliseconds restart_delay(int consecutive) {
    constexpr std::chrono::milliseconds first{100};
    constexpr std::chrono::milliseconds maximum{60000};
    auto delay = first;
    for (int i = 0; i < consecutive && delay < maximum; ++i) delay *= 2;
    return delay < maximum ? delay : maximum;
}

}  // namespace isolab::container
