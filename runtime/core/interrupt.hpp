#pragma once
// SIGINT and SIGTERM as a flag that long waits poll. The owners of what a command created
// (a QEMU child, a domain, a VM's files) then remove it before the process exits. The
// default action would end the process at once and leave it all behind.
#include <csignal>
#include <mutex>

namespace isolab {

// While at least one guard lives, SIGINT and SIGTERM only set the flag. Guards nest, also
// across threads (compare's scale series boots VMs on several): the first one installs the
// handlers and clears the flag, the last one restores the previous handlers.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    // True once SIGINT or SIGTERM arrived under the outermost guard.
    static bool requested();
    // The exit code the shell reports for that signal: 130 for SIGINT, 143 for SIGTERM.
    static int exit_code();

private:
    static inline std::mutex mutex_;
    static inline int active_ = 0;
    static inline struct sigaction previous_interrupt_ {};
    static inline struct sigaction previous_terminate_ {};
};

}  // namespace isolab
