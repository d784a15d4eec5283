#pragma once
// Seccomp: the default filter that makes kernel-wide or namespace-escaping system calls
// fail with EPERM inside a container, like Docker's default profile does.
#include <string>
#include <vector>

namespace isolab::kernel {

// System calls the default filter rejects with EPERM (names as libseccomp knows them;
// names this architecture lacks are skipped).
const std::vector<std::string>& default_blocked_syscalls();

// Loads the default filter into the current process; it is inherited across execve.
// Needs no_new_privs or CAP_SYS_ADMIN. Besides the blocked calls, clone and unshare with
// namespace flags fail with EPERM, and clone3 fails with ENOSYS so that C libraries fall
// back to clone, whose flags the filter can inspect.
void load_default_seccomp_filter();

}  // namespace isolab::kernel
