#pragma once
// Namespaces: cloning the container's first process into new pid, mount, uts, ipc and net
// namespaces, owning that process until it is reaped, and the setup done inside the new
// uts and net namespaces (hostname, loopback).
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "runtime/linux/hostname.hpp"

namespace isolab::kernel {

// CLONE_NEW* flags of a container's first process. The cgroup namespace is entered later
// with unshare(), once the process sits in its own cgroup, so that cgroup becomes its root.
int container_clone_flags();

// A child process owned by this object: the destructor kills it (SIGKILL) and reaps it
// unless wait() already did.
class ChildProcess {
public:
    ChildProcess() = default;
    explicit ChildProcess(pid_t pid) : pid_(pid) {}
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), reaped_(other.reaped_) { other.pid_ = -1; }
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Waits for the process and returns its exit code, or 128 + signal when it was killed.
    int wait();
    // Returns the exit code when the process has ended, or -1 while it still runs.
    int try_wait();
    bool reaped() const { return reaped_; }
    // Gives the process up: the destructor no longer kills or reaps it. Returns its pid.
    pid_t release() {
        reaped_ = true;
        return pid_;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

// Runs `body` in a child cloned with `flags` (plus SIGCHLD) on its own stack; the child
// exits with the value body returns. Throws Error when clone fails.
ChildProcess clone_child(int flags, const std::function<int()>& body);

// Converts a wait status to an exit code: the exit status, or 128 + signal.
int exit_code_from_status(int status);


// Sets the hostname of the current uts namespace.
void set_hostname(const std::string& hostname);

// Brings the loopback interface up in the current network namespace.
void bring_up_loopback();

}  // namespace isolab::kernel
