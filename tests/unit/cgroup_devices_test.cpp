// Device rules of a container's cgroup: the v1 control file writes and the cgroup v2
// device filter, whose instructions a small interpreter below runs on sample requests.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/error.hpp"
#include "runtime/linux/cgroup_devices.hpp"

namespace isolab::kernel {
namespace {

using Writes = std::vector<std::pair<std::string, std::string>>;

// Runs the subset of eBPF that device_filter_program emits on one request, as the kernel
// runs a BPF_PROG_TYPE_CGROUP_DEVICE program, and returns R0.
std::uint64_t run_filter(const std::vector<bpf_insn>& program, char type, std::uint32_t major, std::uint32_t minor,
                         const std::string& access) {
    std::uint32_t access_bits = 0;
    for (char bit : access) {
        if (bit == 'm') access_bits |= BPF_DEVCG_ACC_MKNOD;
        if (bit == 'r') access_bits |= BPF_DEVCG_ACC_READ;
        if (bit == 'w') access_bits |= BPF_DEVCG_ACC_WRITE;
    }
    std::uint32_t context[3] = {(access_bits << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major,
                                minor};
    std::uint64_t reg[11] = {};
    for (size_t pc = 0; pc < program.size(); ++pc) {
        const auto& insn = program[pc];
        std::uint64_t source = (BPF_SRC(insn.code) == BPF_X) ? reg[insn.src_reg] : static_cast<std::uint64_t>(static_cast<std::int64_t>(insn.imm));
        switch (insn.code) {
            case BPF_LDX | BPF_MEM | BPF_W:
                if (insn.src_reg != BPF_REG_1 || insn.off % 4 != 0 || insn.off < 0 || insn.off > 8) throw std::runtime_error("unexpected load at offset " + std::to_string(insn.off));
                reg[insn.dst_reg] = context[insn.off / 4];
                break;
            case BPF_ALU | BPF_AND | BPF_K:
                reg[insn.dst_reg] = static_cast<std::uint32_t>(reg[insn.dst_reg] & source);
                break;
            case BPF_ALU | BPF_RSH | BPF_K:
                reg[insn.dst_reg] = static_cast<std::uint32_t>(reg[insn.dst_reg]) >> insn.imm;
                break;
            case BPF_ALU | BPF_MOV | BPF_X:
                reg[insn.dst_reg] = static_cast<std::uint32_t>(source);
                break;
            case BPF_ALU64 | BPF_MOV | BPF_K:
                reg[insn.dst_reg] = source;
                break;
            case BPF_JMP | BPF_JNE | BPF_K:
            case BPF_JMP | BPF_JNE | BPF_X:
                if (reg[insn.dst_reg] != source) pc += insn.off;
                break;
            case BPF_JMP | BPF_EXIT:
                return reg[BPF_REG_0];
            default:
                throw std::runtime_error("unexpected opcode " + std::to_string(insn.code));
        }
    }
    throw std::runtime_error("program ran past its end");
}

TEST(DeviceRules, V1Strings) {
    EXPECT_EQ(to_cgroup_v1_string(DeviceRule{.allow = false, .type = 'a'}), "a");
    EXPECT_EQ(to_cgroup_v1_string(DeviceRule{.type = 'c', .major = 1, .minor = 3, .access = "rwm"}), "c 1:3 rwm");
    EXPECT_EQ(to_cgroup_v1_string(DeviceRule{.type = 'b', .access = "m"}), "b *:* m");
    EXPECT_EQ(to_cgroup_v1_string(DeviceRule{.type = 'c', .major = 136, .access = "rwm"}), "c 136:* rwm");
}

TEST(DeviceRules, DefaultV1Writes) {
    Writes expected{{"devices.deny", "a"},           {"devices.allow", "c *:* m"},     {"devices.allow", "b *:* m"},
                    {"devices.allow", "c 1:3 rwm"},  {"devices.allow", "c 1:5 rwm"},   {"devices.allow", "c 1:7 rwm"},
                    {"devices.allow", "c 1:8 rwm"},  {"devices.allow", "c 1:9 rwm"},   {"devices.allow", "c 5:0 rwm"},
                    {"devices.allow", "c 5:1 rwm"},  {"devices.allow", "c 5:2 rwm"},   {"devices.allow", "c 136:* rwm"},
                    {"devices.allow", "c 10:200 rwm"}};

    EXPECT_EQ(v1_device_writes(default_device_rules()), expected);
    EXPECT_EQ(v1_device_writes(privileged_device_rules()), (Writes{{"devices.allow", "a"}}));
}

TEST(DeviceMapping, ParsesDockerForms) {
    EXPECT_EQ(parse_device_mapping("/dev/fuse"), (DeviceMapping{"/dev/fuse", "/dev/fuse", "rwm"}));
    EXPECT_EQ(parse_device_mapping("/dev/fuse:r"), (DeviceMapping{"/dev/fuse", "/dev/fuse", "r"}));
    EXPECT_EQ(parse_device_mapping("/dev/loop0:/dev/disk"), (DeviceMapping{"/dev/loop0", "/dev/disk", "rwm"}));
    EXPECT_EQ(parse_device_mapping("/dev/loop0:/dev/disk:rw"), (DeviceMapping{"/dev/loop0", "/dev/disk", "rw"}));
}

TEST(DeviceMapping, RejectsInvalidValues) {
    EXPECT_THROW(parse_device_mapping("dev/fuse"), Error);
    EXPECT_THROW(parse_device_mapping("/dev/fuse:disk"), Error);
    EXPECT_THROW(parse_device_mapping("/dev/fuse:/dev/fuse:rx"), Error);
    EXPECT_THROW(parse_device_mapping("/dev/fuse:/dev/fuse:rw:m"), Error);
}

TEST(DeviceMapping, RuleFromHostNode) {
    EXPECT_EQ(device_rule_for(parse_device_mapping("/dev/null:/dev/other:rw")),
              (DeviceRule{.allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rw"}));
    EXPECT_THROW(device_rule_for(parse_device_mapping("/proc/self/status")), Error);
    EXPECT_THROW(device_rule_for(parse_device_mapping("/dev/isolab-missing-device")), Error);
}

TEST(DeviceFilter, InstructionsForTwoRules) {
    std::vector<DeviceRule> rules{DeviceRule{.allow = false, .type = 'a'},
                                  DeviceRule{.type = 'c', .major = 1, .minor = 3, .access = "rw"}};

    auto program = device_filter_program(rules);

    // Prologue (6), then the last rule first: type, access (3), major, minor, return (2),
    // then the deny-all rule, which ends the program with "return 0".
    struct Expected {
        std::uint8_t code, dst, src;
        std::int16_t off;
        std::int32_t imm;
    };
    std::vector<Expected> expected{
        {BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0},  {BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xFFFF},
        {BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0},  {BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16},
        {BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0},  {BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0},
        {BPF_JMP | BPF_JNE | BPF_K, 2, 0, 7, BPF_DEVCG_DEV_CHAR},
        {BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0},  {BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE},
        {BPF_JMP | BPF_JNE | BPF_X, 1, 3, 4, 0},  {BPF_JMP | BPF_JNE | BPF_K, 4, 0, 3, 1},
        {BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, 3},  {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},         {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    ASSERT_EQ(program.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE("instruction " + std::to_string(i));
        EXPECT_EQ(program[i].code, expected[i].code);
        EXPECT_EQ(program[i].dst_reg, expected[i].dst);
        EXPECT_EQ(program[i].src_reg, expected[i].src);
        EXPECT_EQ(program[i].off, expected[i].off);
        EXPECT_EQ(program[i].imm, expected[i].imm);
    }
}

TEST(DeviceFilter, DefaultRulesDecide) {
    auto program = device_filter_program(default_device_rules());

    EXPECT_EQ(run_filter(program, 'c', 1, 3, "rw"), 1u);     // /dev/null
    EXPECT_EQ(run_filter(program, 'c', 136, 7, "rw"), 1u);   // /dev/pts/7
    EXPECT_EQ(run_filter(program, 'c', 10, 200, "r"), 1u);   // /dev/net/tun
    EXPECT_EQ(run_filter(program, 'b', 7, 0, "m"), 1u);      // mknod of any node
    EXPECT_EQ(run_filter(program, 'b', 7, 0, "r"), 0u);      // opening a block device
    EXPECT_EQ(run_filter(program, 'b', 7, 0, "rm"), 0u);     // "m" alone does not cover r
    EXPECT_EQ(run_filter(program, 'c', 1, 11, "w"), 0u);     // /dev/kmsg
    EXPECT_EQ(run_filter(program, 'c', 1, 1, "r"), 0u);      // /dev/mem
}

TEST(DeviceFilter, LastMatchingRuleWins) {
    std::vector<DeviceRule> rules{DeviceRule{.allow = true, .type = 'a'},
                                  DeviceRule{.allow = false, .type = 'b', .major = 7, .access = "rw"}};

    auto program = device_filter_program(rules);

    EXPECT_EQ(run_filter(program, 'b', 7, 3, "r"), 0u);
    EXPECT_EQ(run_filter(program, 'b', 7, 3, "m"), 1u);
    EXPECT_EQ(run_filter(program, 'b', 8, 0, "rw"), 1u);
    EXPECT_EQ(run_filter(program, 'c', 7, 3, "r"), 1u);
}

TEST(DeviceFilter, PrivilegedAllowsAll) {
    auto program = device_filter_program(privileged_device_rules());

    EXPECT_EQ(run_filter(program, 'b', 254, 0, "rwm"), 1u);
    EXPECT_EQ(run_filter(program, 'c', 1, 1, "r"), 1u);
}

TEST(DeviceFilter, NoDenyAllAllowsTheRest) {
    auto program = device_filter_program({DeviceRule{.allow = false, .type = 'c', .major = 1, .minor = 11, .access = "rwm"}});

    EXPECT_EQ(run_filter(program, 'c', 1, 11, "r"), 0u);
    EXPECT_EQ(run_filter(program, 'c', 1, 3, "r"), 1u);
}

}  // namespace
}  // namespace isolab::kernel
