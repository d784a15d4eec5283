#include "runtime/container/signal_forwarding.hpp"

#include <atomic>

namespace isolab::container {

namespace {

// The pid of the running container, for forwarding signals sent to isolab itself.
std::atomic<pid_t> forward_target{0};

void forward_signal(int signal_number) {
    pid_t pid = forward_target.load();
    if (pid > 0) kill(pid, signal_number);
}

}  // namespace

SignalForwarding::SignalForwarding(pid_t pid) {
    forward_target = pid;
    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (size_t i = 0; i < signals_.size(); ++i) sigaction(signals_[i], &action, &previous_[i]);
}

SignalForwarding::~SignalForwarding() {
    for (size_t i = 0; i < signals_.size(); ++i) sigaction(signals_[i], &previous_[i], nullptr);
    forward_target = 0;
}

}  // namespace isolab::container
