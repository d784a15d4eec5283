// The default seccomp profile as data. The lists follow the default profile of Docker
// (moby, profiles/seccomp/default.json, 2023-2024 versions), so a workload meets the same
// allowed and rejected system calls under isolab as under `docker run`.
#include <sched.h>

#include "runtime/linux/seccomp_profile.hpp"

namespace isolab::kernel {

namespace {

SeccompRule allow(std::vector<std::string> names) { return {std::move(names), "SCMP_ACT_ALLOW", std::nullopt, {}, {}, {}}; }

SeccompRule allow_with_capability(std::vector<std::string> names, const std::string& capability) {
    auto rule = allow(std::move(names));
    rule.includes.caps = {capability};
    return rule;
}

SeccompRule allow_on_arches(std::vector<std::string> names, std::vector<std::string> arches) {
    auto rule = allow(std::move(names));
    rule.includes.arches = std::move(arches);
    return rule;
}

// System calls every container may make.
std::vector<std::string> always_allowed() {
    return {
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod", "chown",
        "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
        "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
        "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
        "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir",
        "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
        "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
        "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents",
        "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
        "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
        "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
        "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
        "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "io_uring_enter",
        "io_uring_register", "io_uring_setup", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
        "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier", "memfd_create",
        "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
        "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
        "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
        "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
        "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
        "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
        "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
        "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
        "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
        "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
        "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
        "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
        "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
        "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
        "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "waitpid", "write", "writev"};
}

// The clone flags that create namespaces: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS,
// CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID and CLONE_NEWNET (0x7E020000).
constexpr std::uint64_t namespace_clone_flags =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

std::vector<SeccompRule> argument_rules() {
    std::vector<SeccompRule> rules;

    // socket: every family except AF_VSOCK (40).
    auto socket = allow({"socket"});
    socket.args = {{0, 40, 0, "SCMP_CMP_NE"}};
    rules.push_back(socket);

    // personality: only PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the query 0xffffffff.
    for (std::uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
        auto personality = allow({"personality"});
        personality.args = {{0, persona, 0, "SCMP_CMP_EQ"}};
        rules.push_back(personality);
    }

    // Without CAP_SYS_ADMIN, clone may not create namespaces; s390 passes flags second.
    auto clone = allow({"clone"});
    clone.args = {{0, namespace_clone_flags, 0, "SCMP_CMP_MASKED_EQ"}};
    clone.excludes.caps = {"CAP_SYS_ADMIN"};
    clone.excludes.arches = {"s390", "s390x"};
    rules.push_back(clone);
    auto clone_s390 = allow({"clone"});
    clone_s390.args = {{1, namespace_clone_flags, 0, "SCMP_CMP_MASKED_EQ"}};
    clone_s390.includes.arches = {"s390", "s390x"};
    clone_s390.excludes.caps = {"CAP_SYS_ADMIN"};
    rules.push_back(clone_s390);

    // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes C
    // libraries fall back to clone.
    SeccompRule clone3{{"clone3"}, "SCMP_ACT_ERRNO", 38, {}, {}, {}};
    clone3.excludes.caps = {"CAP_SYS_ADMIN"};
    rules.push_back(clone3);
    return rules;
}

std::vector<SeccompRule> capability_rules() {
    return {
        allow_with_capability({"open_by_handle_at"}, "CAP_DAC_READ_SEARCH"),
        allow_with_capability({"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                               "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                               "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
                               "umount2", "unshare"},
                              "CAP_SYS_ADMIN"),
        allow_with_capability({"reboot"}, "CAP_SYS_BOOT"),
        allow_with_capability({"chroot"}, "CAP_SYS_CHROOT"),
        allow_with_capability({"delete_module", "init_module", "finit_module"}, "CAP_SYS_MODULE"),
        allow_with_capability({"acct"}, "CAP_SYS_PACCT"),
        allow_with_capability({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
                              "CAP_SYS_PTRACE"),
        allow_with_capability({"iopl", "ioperm"}, "CAP_SYS_RAWIO"),
        allow_with_capability({"settimeofday", "stime", "clock_settime", "clock_settime64"}, "CAP_SYS_TIME"),
        allow_with_capability({"vhangup"}, "CAP_SYS_TTY_CONFIG"),
        allow_with_capability({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, "CAP_SYS_NICE"),
        allow_with_capability({"syslog"}, "CAP_SYSLOG"),
        allow_with_capability({"bpf"}, "CAP_BPF"),
        allow_with_capability({"perf_event_open"}, "CAP_PERFMON"),
    };
}

SeccompProfile build_default_profile() {
    SeccompProfile profile;
    profile.default_action = "SCMP_ACT_ERRNO";
    profile.default_errno_ret = 1;  // EPERM
    profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#if !defined(__x86_64__)
    profile.architectures.clear();  // NOTE: only x86-64 adds its compat ABIs; other hosts filter the native ABI.
#endif
    profile.syscalls.push_back(allow(always_allowed()));

    // ptrace and process_vm_* became safe to allow without a capability in kernel 4.8.
    auto ptrace = allow({"process_vm_readv", "process_vm_writev", "ptrace"});
    ptrace.includes.min_kernel = "4.8";
    profile.syscalls.push_back(ptrace);

    for (auto& rule : argument_rules()) profile.syscalls.push_back(std::move(rule));
    profile.syscalls.push_back(allow_on_arches({"sync_file_range2", "swapcontext"}, {"ppc64le"}));
    profile.syscalls.push_back(allow_on_arches(
        {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"}, {"arm", "arm64"}));
    profile.syscalls.push_back(allow_on_arches({"arch_prctl"}, {"amd64", "x32"}));
    profile.syscalls.push_back(allow_on_arches({"modify_ldt"}, {"amd64", "x32", "x86"}));
    profile.syscalls.push_back(
        allow_on_arches({"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, {"s390", "s390x"}));
    profile.syscalls.push_back(allow_on_arches({"riscv_flush_icache"}, {"riscv64"}));
    for (auto& rule : capability_rules()) profile.syscalls.push_back(std::move(rule));
    return profile;
}

}  // namespace

const SeccompProfile& default_seccomp_profile() {
    static const SeccompProfile profile = build_default_profile();
    return profile;
}

}  // namespace isolab::kernel
