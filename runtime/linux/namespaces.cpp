#include "runtime/linux/namespaces.hpp"

#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

int container_clone_flags() { return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET; }

int exit_code_from_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

ChildProcess::~ChildProcess() {
    if (pid_ <= 0 || reaped_) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        ChildProcess discarded(std::move(*this));
        pid_ = std::exchange(other.pid_, -1);
        reaped_ = other.reaped_;
    }
    return *this;
}

int ChildProcess::wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("waitpid " + std::to_string(pid_));
    }
    reaped_ = true;
    return exit_code_from_status(status);
}

int ChildProcess::try_wait() {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == 0) return -1;
    if (done < 0) throw_errno("waitpid " + std::to_string(pid_));
    reaped_ = true;
    return exit_code_from_status(status);
}

namespace {

constexpr size_t child_stack_size = 1 << 20;

int run_body(void* argument) {
    const auto& body = *static_cast<const std::function<int()>*>(argument);
    // _exit, not a return into glibc's exit(): the copied stdio buffers and atexit
    // handlers of the parent must not run twice.
    _exit(body());
}

}  // namespace

ChildProcess clone_child(int flags, const std::function<int()>& body) {
    // Without CLONE_VM the child gets a copy of this memory, so the stack is freed here
    // and `body` stays valid in the child's copy.
    void* stack = mmap(nullptr, child_stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) throw_errno("cannot allocate a stack for the container process");
    auto* top = static_cast<char*>(stack) + child_stack_size;

    pid_t pid = clone(run_body, top, flags | SIGCHLD, const_cast<std::function<int()>*>(&body));
    int saved = errno;
    munmap(stack, child_stack_size);
    if (pid < 0) {
        throw_errno(saved, "cannot create the container's namespaces (clone)",
                    saved == EPERM ? "run isolab as root" : "");
    }
    spdlog::debug("namespaces: cloned pid {} with flags {:#x}", pid, flags);
    return ChildProcess(pid);
}

void set_hostname(const std::string& hostname) {
    if (sethostname(hostname.data(), hostname.size()) != 0) throw_errno("sethostname " + hostname);
    spdlog::debug("uts: hostname set to {}", hostname);
}

void bring_up_loopback() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("cannot open a socket to configure lo");
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
        int saved = errno;
        close(fd);
        throw_errno(saved, "cannot read the flags of lo");
    }
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) {
        int saved = errno;
        close(fd);
        throw_errno(saved, "cannot bring lo up");
    }
    close(fd);
    spdlog::debug("net: lo is up");
}

}  // namespace isolab::kernel
