#include "runtime/core/interrupt.hpp"

#include <atomic>

namespace isolab {

namespace {

std::atomic<int> received_signal{0};

void record_signal(int signal_number) { received_signal = signal_number; }

}  // namespace

InterruptGuard::InterruptGuard() {
    std::lock_guard lock(mutex_);
    if (active_++ > 0) return;
    received_signal = 0;
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_interrupt_);
    sigaction(SIGTERM, &action, &previous_terminate_);
}

InterruptGuard::~InterruptGuard() {
    std::lock_guard lock(mutex_);
    if (--active_ > 0) return;
    sigaction(SIGINT, &previous_interrupt_, nullptr);
    sigaction(SIGTERM, &previous_terminate_, nullptr);
}

bool InterruptGuard::requested() { return received_signal != 0; }

int InterruptGuard::exit_code() {
    int signal_number = received_signal;
    return signal_number == 0 ? 0 : 128 + signal_number;
}

}  // namespace isolab
