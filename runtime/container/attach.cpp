#include "runtime/container/attach.hpp"

#include <optional>

#include "runtime/container/lifecycle.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/signal_forwarding.hpp"
#include "runtime/container/status.hpp"

namespace isolab::container {

int start_attached(const Paths& paths, const std::string& name_or_id) {
    auto earlier_output = log_size(require_container(paths, name_or_id).paths);
    auto id = start_container(paths, name_or_id);
    // NOTE: signals reach the first process of this start only. A restart by the restart
    // policy gives the workload another pid, which isolab does not follow.
    auto state = observed_state(require_container(paths, id));
    std::optional<SignalForwarding> forwarding;
    if (state.status == "running" && state.pid > 0) forwarding.emplace(state.pid);
    print_logs(paths, id, {.follow = true, .start_offset = earlier_output});
    return wait_container(paths, id);
}

}  // namespace isolab::container
