#pragma once
// Forwarding the signals isolab receives to the process it runs in a container.
#include <signal.h>
#include <sys/types.h>

#include <array>

namespace isolab::container {

// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the container while it runs, as
// `docker run` does, and restores the previous handlers afterwards.
class SignalForwarding {
public:
    explicit SignalForwarding(pid_t pid);
    ~SignalForwarding();
    SignalForwarding(const SignalForwarding&) = delete;
    SignalForwarding& operator=(const SignalForwarding&) = delete;

private:
    std::array<int, 4> signals_{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    std::array<struct sigaction, 4> previous_{};
};

}  // namespace isolab::container
