// Parsing seccomp profiles in Docker's format and the contents of the default profile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/capabilities.hpp"
#include "runtime/linux/seccomp_profile.hpp"

namespace isolab::kernel {
namespace {

std::string error_of(const std::string& json) {
    try {
        parse_seccomp_profile(json, "p.json");
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

const SeccompRule* rule_naming(const SeccompProfile& profile, const std::string& name, const std::string& cap = "") {
    for (const auto& rule : profile.syscalls) {
        bool named = std::find(rule.names.begin(), rule.names.end(), name) != rule.names.end();
        bool cap_matches = cap.empty() ? rule.includes.caps.empty() : rule.includes.caps == std::vector<std::string>{cap};
        if (named && cap_matches) return &rule;
    }
    return nullptr;
}

TEST(SeccompProfile, ParsesDockerFormat) {
    auto profile = parse_seccomp_profile(R"({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
          {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "ignored"},
          {"name": "clone", "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
           "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
          {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "includes": {"minKernel": "5.3"}}
        ]})",
                                         "p.json");

    EXPECT_EQ(profile.default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(profile.default_errno_ret, 1u);
    EXPECT_EQ(profile.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
    ASSERT_EQ(profile.syscalls.size(), 3u);
    EXPECT_EQ(profile.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
    EXPECT_EQ(profile.syscalls[1].names, std::vector<std::string>{"clone"});
    ASSERT_EQ(profile.syscalls[1].args.size(), 1u);
    EXPECT_EQ(profile.syscalls[1].args[0].value, 2114060288u);
    EXPECT_EQ(profile.syscalls[1].args[0].op, "SCMP_CMP_MASKED_EQ");
    EXPECT_EQ(profile.syscalls[1].excludes.caps, std::vector<std::string>{"CAP_SYS_ADMIN"});
    EXPECT_EQ(profile.syscalls[1].excludes.arches, std::vector<std::string>{"s390x"});
    EXPECT_EQ(profile.syscalls[2].errno_ret, 38u);
    EXPECT_EQ(profile.syscalls[2].includes.min_kernel, "5.3");
}

TEST(SeccompProfile, ErrorsNameJsonPath) {
    EXPECT_EQ(error_of("{}"), "invalid seccomp profile p.json: defaultAction is missing");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_NOPE"})"),
              "invalid seccomp profile p.json: defaultAction is an unknown action 'SCMP_ACT_NOPE'");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})"),
              "invalid seccomp profile p.json: syscalls must be an array");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})"),
              "invalid seccomp profile p.json: syscalls[0].names is missing or empty");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                           "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}]})"),
              "invalid seccomp profile p.json: syscalls[0].args[0].index must be between 0 and 5");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                           "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]})"),
              "invalid seccomp profile p.json: syscalls[0].args[0].value must be a non-negative integer");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [1], "action": "SCMP_ACT_ALLOW"}]})"),
              "invalid seccomp profile p.json: syscalls[0].names[0] must be a string");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]})"),
              "invalid seccomp profile p.json: architectures names an unknown architecture 'SCMP_ARCH_VAX'");
    EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000})"),
              "invalid seccomp profile p.json: defaultErrnoRet must be an errno number below 4096");
    EXPECT_EQ(error_of("[1, 2"), "invalid seccomp profile p.json: not valid JSON at byte 6");
}

TEST(SeccompProfile, NumberOverflowIsInvalidJson) {
    auto message = error_of(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1e999})");
    EXPECT_EQ(message.rfind("invalid seccomp profile p.json: ", 0), 0U) << message;
    EXPECT_NE(message.find("number overflow"), std::string::npos) << message;
}

TEST(SeccompProfile, DefaultIsAllowListWithEperm) {
    const auto& profile = default_seccomp_profile();

    EXPECT_EQ(profile.default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(profile.default_errno_ret, 1u);
    ASSERT_NE(rule_naming(profile, "read"), nullptr);
    EXPECT_EQ(rule_naming(profile, "read")->action, "SCMP_ACT_ALLOW");
    EXPECT_EQ(rule_naming(profile, "mount"), nullptr) << "mount is allowed only with CAP_SYS_ADMIN";
    EXPECT_EQ(rule_naming(profile, "unshare"), nullptr);
    EXPECT_EQ(rule_naming(profile, "keyctl"), nullptr);
    EXPECT_EQ(rule_naming(profile, "kexec_load"), nullptr);
}

TEST(SeccompProfile, DefaultCapabilityGroups) {
    const auto& profile = default_seccomp_profile();

    EXPECT_NE(rule_naming(profile, "mount", "CAP_SYS_ADMIN"), nullptr);
    EXPECT_NE(rule_naming(profile, "unshare", "CAP_SYS_ADMIN"), nullptr);
    EXPECT_NE(rule_naming(profile, "setns", "CAP_SYS_ADMIN"), nullptr);
    EXPECT_NE(rule_naming(profile, "reboot", "CAP_SYS_BOOT"), nullptr);
    EXPECT_NE(rule_naming(profile, "ptrace", "CAP_SYS_PTRACE"), nullptr);
    EXPECT_NE(rule_naming(profile, "init_module", "CAP_SYS_MODULE"), nullptr);
    EXPECT_NE(rule_naming(profile, "chroot", "CAP_SYS_CHROOT"), nullptr);
}

TEST(SeccompProfile, DefaultArgumentRules) {
    const auto& profile = default_seccomp_profile();
    const SeccompRule* clone = nullptr;
    const SeccompRule* clone3 = nullptr;
    std::vector<std::uint64_t> personalities;
    for (const auto& rule : profile.syscalls) {
        if (rule.names == std::vector<std::string>{"clone"} && rule.includes.arches.empty()) clone = &rule;
        if (rule.names == std::vector<std::string>{"clone3"}) clone3 = &rule;
        if (rule.names == std::vector<std::string>{"personality"}) personalities.push_back(rule.args.at(0).value);
    }

    ASSERT_NE(clone, nullptr);
    ASSERT_EQ(clone->args.size(), 1u);
    EXPECT_EQ(clone->args[0].op, "SCMP_CMP_MASKED_EQ");
    EXPECT_EQ(clone->args[0].value, 0x7E020000u);
    EXPECT_EQ(clone->args[0].value_two, 0u);
    EXPECT_EQ(clone->excludes.caps, std::vector<std::string>{"CAP_SYS_ADMIN"});
    ASSERT_NE(clone3, nullptr);
    EXPECT_EQ(clone3->action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(clone3->errno_ret, 38u);
    EXPECT_EQ(personalities, (std::vector<std::uint64_t>{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}));
}

TEST(SeccompProgram, CacheReturnsTheCompiledProgram) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-seccomp-");
    const auto& profile = default_seccomp_profile();
    auto capabilities = default_capabilities();

    auto compiled = compile_seccomp_profile(profile, capabilities);
    auto first = cached_seccomp_program(profile, capabilities, folder.path());
    auto second = cached_seccomp_program(profile, capabilities, folder.path());

    ASSERT_FALSE(compiled.empty());
    ASSERT_EQ(first.size(), compiled.size());
    EXPECT_EQ(std::memcmp(first.data(), compiled.data(), compiled.size() * sizeof(sock_filter)), 0);
    ASSERT_EQ(second.size(), compiled.size());
    EXPECT_EQ(std::memcmp(second.data(), compiled.data(), compiled.size() * sizeof(sock_filter)), 0);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder.path()), {}), 1);
}

TEST(SeccompProgram, CapabilitiesChangeTheKey) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-seccomp-");
    auto with_admin = default_capabilities();
    with_admin.push_back(CAP_SYS_ADMIN);

    auto plain = cached_seccomp_program(default_seccomp_profile(), default_capabilities(), folder.path());
    auto admin = cached_seccomp_program(default_seccomp_profile(), with_admin, folder.path());

    EXPECT_NE(plain.size(), admin.size()) << "CAP_SYS_ADMIN allows mount and unshare, so the program differs";
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder.path()), {}), 2);
}

TEST(SeccompProgram, DamagedCacheFileIsCompiledAgain) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-seccomp-");
    auto good = cached_seccomp_program(default_seccomp_profile(), default_capabilities(), folder.path());
    auto file = std::filesystem::directory_iterator(folder.path())->path();
    write_file_atomic(file, "abc");

    auto again = cached_seccomp_program(default_seccomp_profile(), default_capabilities(), folder.path());

    EXPECT_EQ(again.size(), good.size());
    EXPECT_EQ(std::filesystem::file_size(file), good.size() * sizeof(sock_filter));
}

TEST(SeccompProgram, BytesMustBeWholeInstructions) {
    EXPECT_THROW(program_from_bytes(""), Error);
    EXPECT_THROW(program_from_bytes("1234567"), Error);
    EXPECT_EQ(program_from_bytes(std::string(16, '\0')).size(), 2U);
}

}  // namespace
}  // namespace isolab::kernel
