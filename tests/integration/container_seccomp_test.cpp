// The default seccomp profile (Docker's allow-list) and profiles given with
// --security-opt seccomp=FILE.json, through the CLI as a user runs them. Needs root.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/core/files.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ContainerSeccomp : public RootCliTest {
protected:
    std::string write_profile(const std::string& name, const std::string& json) {
        auto path = root_.root().parent_path() / name;
        std::ofstream(path) << json;
        return path.string();
    }
};

// A profile that allows everything but mkdir and mkdirat, which fail with EACCES (13).
const char* block_mkdir_profile = R"({
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
  ]
})";

TEST_F(ContainerSeccomp, DefaultRejectsUnshareWithEperm) {
    // Creating a user namespace needs no capability, so only the filter can stop it.
    auto confined = isolab({"run", "--rm", "busybox", "sh", "-c", "unshare -U true && echo unshared"});
    auto unconfined = isolab({"run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                              "unshare -U true && echo unshared"});

    EXPECT_EQ(confined.out, "");
    EXPECT_NE(confined.err.find("Operation not permitted"), std::string::npos) << confined.err;
    EXPECT_EQ(unconfined.out, "unshared\n") << unconfined.err;
}

TEST_F(ContainerSeccomp, DefaultRejectsMountWithEperm) {
    auto result = isolab({"run", "--rm", "busybox", "sh", "-c", "mkdir /m; mount -t tmpfs none /m && echo mounted"});

    // busybox mount reports EPERM (and EACCES) as "permission denied (are you root?)".
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("permission denied"), std::string::npos) << result.err;
}

TEST_F(ContainerSeccomp, SysAdminAllowsMountAsDocker) {
    // Docker's default profile allows mount, unshare and setns to a container that has
    // CAP_SYS_ADMIN; the capability then decides.
    auto result = isolab({"run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
                          "mkdir /m; mount -t tmpfs none /m && echo mounted; grep ^Seccomp: /proc/self/status"});

    EXPECT_EQ(result.out, "mounted\nSeccomp:\t2\n") << result.err;
}

TEST_F(ContainerSeccomp, NamespaceCloneFlagsRejected) {
    // clone with CLONE_NEWNET fails, a plain fork (clone without namespace flags) works.
    auto result = isolab({"run", "--rm", "busybox", "sh", "-c", "unshare -n -f true || echo refused; (true) && echo forked"});

    EXPECT_EQ(result.out, "refused\nforked\n") << result.err;
}

TEST_F(ContainerSeccomp, PersonalityLinux32Allowed) {
    // linux32 sets PER_LINUX32 (allowed); uname -m then reports i686.
    auto result = isolab({"run", "--rm", "busybox", "linux32", "uname", "-m"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "i686\n");
}

TEST_F(ContainerSeccomp, CustomProfileBlocksMkdir) {
    auto profile = write_profile("block-mkdir.json", block_mkdir_profile);
    auto blocked = isolab({"run", "--rm", "--security-opt", "seccomp=" + profile, "busybox", "sh", "-c",
                           "mkdir /x && echo made; touch /y && echo touched"});
    auto default_profile = isolab({"run", "--rm", "busybox", "sh", "-c", "mkdir /x && echo made"});

    EXPECT_NE(blocked.err.find("Permission denied"), std::string::npos) << blocked.err;
    EXPECT_EQ(blocked.out, "touched\n");
    EXPECT_EQ(default_profile.out, "made\n") << default_profile.err;
}

TEST_F(ContainerSeccomp, CustomProfileStoredWithContainer) {
    auto profile = write_profile("stored.json", block_mkdir_profile);
    auto result = isolab({"run", "--name", "stored", "--security-opt", "seccomp=" + profile, "busybox", "true"});
    fs::remove(profile);

    auto containers = root_.paths().containers();
    std::string config;
    for (const auto& entry : fs::directory_iterator(containers)) {
        if (fs::exists(entry.path() / "config.json")) config = read_file(entry.path() / "config.json");
    }
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(config.find("SCMP_ACT_ERRNO"), std::string::npos) << "the profile text belongs in the request";
}

TEST_F(ContainerSeccomp, MalformedProfileNamesJsonPath) {
    auto bad_op = write_profile("bad-op.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})");
    auto bad_action = write_profile("bad-action.json", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "ALLOW"}]})");
    auto no_default = write_profile("no-default.json", R"({"syscalls": []})");
    auto not_json = write_profile("not-json.json", "{\"defaultAction\": ");

    auto op = isolab({"run", "--rm", "--security-opt", "seccomp=" + bad_op, "busybox", "true"});
    auto action = isolab({"run", "--rm", "--security-opt", "seccomp=" + bad_action, "busybox", "true"});
    auto missing = isolab({"run", "--rm", "--security-opt", "seccomp=" + no_default, "busybox", "true"});
    auto syntax = isolab({"run", "--rm", "--security-opt", "seccomp=" + not_json, "busybox", "true"});
    auto absent = isolab({"run", "--rm", "--security-opt", "seccomp=/no/such/profile.json", "busybox", "true"});

    EXPECT_EQ(op.exit_code, 125);
    EXPECT_NE(op.err.find(bad_op + ": syscalls[1].args[0].op is an unknown operator 'SCMP_CMP_ALMOST'"), std::string::npos) << op.err;
    EXPECT_NE(action.err.find("syscalls[0].action is an unknown action 'ALLOW'"), std::string::npos) << action.err;
    EXPECT_NE(missing.err.find(": defaultAction is missing"), std::string::npos) << missing.err;
    EXPECT_NE(syntax.err.find("not valid JSON"), std::string::npos) << syntax.err;
    EXPECT_NE(absent.err.find("seccomp profile /no/such/profile.json not found"), std::string::npos) << absent.err;
    for (const auto* result : {&op, &action, &missing, &syntax, &absent}) {
        EXPECT_EQ(result->exit_code, 125);
        EXPECT_EQ(std::count(result->err.begin(), result->err.end(), '\n'), 1) << result->err;
        EXPECT_EQ(result->out, "");
    }
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerSeccomp, UnconfinedAllowsEverything) {
    auto result = isolab({"run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                          "grep ^Seccomp: /proc/self/status; unshare -U true && echo unshared"});

    EXPECT_EQ(result.out, "Seccomp:\t0\nunshared\n") << result.err;
}

}  // namespace
}  // namespace isolab::testing
