#include "runtime/linux/seccomp.hpp"

#include <sched.h>
#include <seccomp.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

const std::vector<std::string>& default_blocked_syscalls() {
    static const std::vector<std::string> names{
        "acct",          "add_key",        "bpf",             "clock_adjtime",     "clock_settime",   "create_module",
        "delete_module", "finit_module",   "fsconfig",        "fsmount",           "fsopen",          "fspick",
        "get_kernel_syms", "init_module",  "ioperm",          "iopl",              "kcmp",            "kexec_file_load",
        "kexec_load",    "keyctl",         "lookup_dcookie",  "mount",             "mount_setattr",   "move_mount",
        "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",       "perf_event_open", "pivot_root",
        "process_vm_readv", "process_vm_writev", "ptrace",    "query_module",      "quotactl",        "quotactl_fd",
        "reboot",        "request_key",    "setns",           "settimeofday",      "stime",           "swapoff",
        "swapon",        "sysfs",          "_sysctl",         "umount",            "umount2",         "unshare",
        "uselib",        "userfaultfd",    "ustat",           "vm86",              "vm86old"};
    return names;
}

namespace {

// Frees the filter context whatever happens.
class SeccompContext {
public:
    SeccompContext() : context_(seccomp_init(SCMP_ACT_ALLOW)) {
        if (context_ == nullptr) throw Error("cannot create a seccomp filter (seccomp_init failed)");
    }
    ~SeccompContext() { seccomp_release(context_); }
    SeccompContext(const SeccompContext&) = delete;
    SeccompContext& operator=(const SeccompContext&) = delete;
    scmp_filter_ctx get() const { return context_; }

private:
    scmp_filter_ctx context_;
};

void check(int result, const std::string& what) {
    if (result < 0) throw_errno(-result, "seccomp: " + what);
}

constexpr unsigned long namespace_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                             CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

void block_namespace_clones(scmp_filter_ctx context) {
    // One rule per flag: a rule matches when (arg0 & flag) == flag.
    for (auto flag : namespace_flags) {
        check(seccomp_rule_add(context, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
              "rule for clone");
    }
    check(seccomp_rule_add(context, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "rule for clone3");
}

}  // namespace

void load_default_seccomp_filter() {
    SeccompContext context;
    size_t blocked = 0;
    for (const auto& name : default_blocked_syscalls()) {
        int number = seccomp_syscall_resolve_name(name.c_str());
        if (number == __NR_SCMP_ERROR) continue;
        // Numbers below 0 are pseudo-syscalls for calls this architecture does not have.
        if (number < 0) continue;
        check(seccomp_rule_add(context.get(), SCMP_ACT_ERRNO(EPERM), number, 0), "rule for " + name);
        ++blocked;
    }
    block_namespace_clones(context.get());
    check(seccomp_load(context.get()), "load the filter");
    spdlog::debug("seccomp: default filter loaded, {} system calls fail with EPERM", blocked);
}

}  // namespace isolab::kernel
