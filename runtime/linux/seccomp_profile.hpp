#pragma once
// Seccomp profiles in Docker's JSON format: parsing a profile file, the built-in default
// profile (the same allow-list Docker's default profile has), and turning a profile into
// a libseccomp filter for a process with a given capability set.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <linux/filter.h>
#include <sys/capability.h>

#include <filesystem>

namespace isolab::kernel {

// One comparison of a system call argument ("args" entry).
struct SeccompArgument {
    unsigned index = 0;            // argument number, 0 to 5
    std::uint64_t value = 0;       // the mask for SCMP_CMP_MASKED_EQ
    std::uint64_t value_two = 0;   // the value the masked argument must equal (SCMP_CMP_MASKED_EQ only)
    std::string op;                // SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, ..., SCMP_CMP_MASKED_EQ
};

// The "includes" or "excludes" condition of a rule.
struct SeccompCondition {
    std::vector<std::string> caps;     // e.g. CAP_SYS_ADMIN
    std::vector<std::string> arches;   // Docker's names: amd64, x86, arm64, ...
    std::string min_kernel;            // e.g. "4.8"; empty: any kernel

    bool empty() const { return caps.empty() && arches.empty() && min_kernel.empty(); }
};

// One "syscalls" entry: an action for the named system calls, optionally only when the
// arguments match and the process has (includes) or lacks (excludes) capabilities.
struct SeccompRule {
    std::vector<std::string> names;
    std::string action;                      // SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...
    std::optional<std::uint32_t> errno_ret;  // errno for SCMP_ACT_ERRNO; default EPERM
    std::vector<SeccompArgument> args;
    SeccompCondition includes;
    SeccompCondition excludes;
};

struct SeccompProfile {
    std::string default_action;                      // for every call no rule matches
    std::optional<std::uint32_t> default_errno_ret;  // errno for an ERRNO default action
    std::vector<std::string> architectures;          // SCMP_ARCH_*; empty: the native one
    std::vector<SeccompRule> syscalls;
};

// Parses a profile in Docker's format. `source` names the file in error messages, which
// also give the JSON path of the bad value (e.g. "syscalls[3].args[0].op"). Throws Error.
SeccompProfile parse_seccomp_profile(std::string_view text, const std::string& source);

// Reads and parses a profile file. Throws Error naming the file.
SeccompProfile read_seccomp_profile(const std::string& path);

// The default profile: default action ERRNO(EPERM), the system calls Docker's default
// profile allows, namespace-creating clone flags and personality values rejected, and
// groups allowed only with a capability (mount and unshare with CAP_SYS_ADMIN, ptrace
// with CAP_SYS_PTRACE, ...). Its list follows moby's profiles/seccomp/default.json.
const SeccompProfile& default_seccomp_profile();

// A compiled filter: the classic BPF program that seccomp(2) loads.
using SeccompProgram = std::vector<sock_filter>;

// Compiles the profile's filter for a process whose bounding set is `capabilities`, with
// libseccomp, without loading it. Throws Error.
SeccompProgram compile_seccomp_profile(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities);

// Returns the compiled program from `folder` when a run before compiled the same rules
// (keyed by a digest of the applicable rules, the kernel and the libseccomp version), or
// compiles and stores it there. Compiling Docker's default profile takes about 20 ms per
// container start (measured on a 2-core host under load); reading the file, well under 1 ms.
SeccompProgram cached_seccomp_program(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities,
                                      const std::filesystem::path& folder);

// Checks and copies a program read from a file: a whole number of instructions, at most
// BPF_MAXINSNS. Throws Error.
SeccompProgram program_from_bytes(std::string_view bytes);

// Loads a compiled program into the calling thread; it stays through execve. Needs
// no_new_privs or CAP_SYS_ADMIN.
void load_seccomp_program(const SeccompProgram& program);

// Builds the profile's filter for a process whose bounding set is `capabilities` and
// loads it into the calling thread; it stays through execve. Needs no_new_privs or
// CAP_SYS_ADMIN. Names this kernel or libseccomp does not know are skipped.
void load_seccomp_profile(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities);

}  // namespace isolab::kernel
