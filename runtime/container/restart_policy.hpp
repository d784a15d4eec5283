#pragma once
// The restart policy of a detached container (--restart), applied by its monitor when the
// workload exits: no, on-failure[:N], always or unless-stopped, with Docker's meaning.
#include <chrono>
#include <string_view>

namespace isolab::container {

struct RestartPolicy {
    enum class Kind { no, on_failure, always, unless_stopped };
    Kind kind = Kind::no;
    int maximum_retries = 0;   // on-failure:N; 0: no maximum
};

// Parses "no", "on-failure", "on-failure:N" (N >= 0), "always" or "unless-stopped".
// Throws Error naming the value for anything else.
RestartPolicy parse_restart_policy(std::string_view text);

// The policy's name as Docker's HostConfig.RestartPolicy.Name spells it.
std::string_view restart_policy_name(const RestartPolicy& policy);

// True when the monitor restarts a workload that exited with `exit_code` after
// `restart_count` restarts. A manual stop (stop, kill, rm -f) never restarts it.
bool should_restart(const RestartPolicy& policy, int exit_code, int restart_count, bool manually_stopped);

// The pause before restart number `consecutive` (0 for the first): 100 ms, doubling each
// time, as the Docker Engine API documents for RestartPolicy. The one-minute maximum is
// isolab's own choice.
std::chrono::milliseconds restart_delay(int consecutive);

}  // namespace isolab::container
