#include "runtime/linux/cgroup_devices.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/unique_fd.hpp"

namespace isolab::kernel {

namespace {

DeviceRule allow_char(std::uint32_t major, std::optional<std::uint32_t> minor) {
    return DeviceRule{.allow = true, .type = 'c', .major = major, .minor = minor, .access = "rwm"};
}

// BPF_DEVCG_ACC_* bits of an access string.
std::int32_t access_mask(const std::string& access) {
    std::int32_t mask = 0;
    if (access.find('m') != std::string::npos) mask |= BPF_DEVCG_ACC_MKNOD;
    if (access.find('r') != std::string::npos) mask |= BPF_DEVCG_ACC_READ;
    if (access.find('w') != std::string::npos) mask |= BPF_DEVCG_ACC_WRITE;
    return mask;
}

constexpr std::int32_t all_access = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

bpf_insn instruction(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t offset, std::int32_t imm) {
    bpf_insn result{};
    result.code = code;
    // Registers are 4-bit fields. Every caller passes one of R0 to R5.
    result.dst_reg = dst & 0xF;
    result.src_reg = src & 0xF;
    result.off = offset;
    result.imm = imm;
    return result;
}

// Registers of the program after its prologue.
constexpr std::uint8_t r0 = BPF_REG_0, r1 = BPF_REG_1, type_reg = BPF_REG_2, access_reg = BPF_REG_3,
                       major_reg = BPF_REG_4, minor_reg = BPF_REG_5;

// Instructions that return `allow` when the request matches `rule` and otherwise jump
// past their own end, to the next rule.
std::vector<bpf_insn> rule_block(const DeviceRule& rule) {
    // The jump offsets are filled in below, once the block's length is known.
    std::vector<bpf_insn> block;
    std::vector<size_t> jumps;
    auto skip_unless_equal = [&](std::uint8_t reg, std::int32_t value) {
        jumps.push_back(block.size());
        block.push_back(instruction(BPF_JMP | BPF_JNE | BPF_K, reg, 0, 0, value));
    };

    if (rule.type == 'b') skip_unless_equal(type_reg, BPF_DEVCG_DEV_BLOCK);
    if (rule.type == 'c') skip_unless_equal(type_reg, BPF_DEVCG_DEV_CHAR);
    auto mask = access_mask(rule.access);
    if (mask != all_access) {
        // Matches when every requested access bit is in the rule: (access & mask) == access.
        block.push_back(instruction(BPF_ALU | BPF_MOV | BPF_X, r1, access_reg, 0, 0));
        block.push_back(instruction(BPF_ALU | BPF_AND | BPF_K, r1, 0, 0, mask));
        jumps.push_back(block.size());
        block.push_back(instruction(BPF_JMP | BPF_JNE | BPF_X, r1, access_reg, 0, 0));
    }
    if (rule.type != 'a' && rule.major) skip_unless_equal(major_reg, static_cast<std::int32_t>(*rule.major));
    if (rule.type != 'a' && rule.minor) skip_unless_equal(minor_reg, static_cast<std::int32_t>(*rule.minor));
    block.push_back(instruction(BPF_ALU64 | BPF_MOV | BPF_K, r0, 0, 0, rule.allow ? 1 : 0));
    block.push_back(instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

    // A jump's offset counts from the instruction after it.
    for (auto index : jumps) block[index].off = static_cast<std::int16_t>(block.size() - index - 1);
    return block;
}

}  // namespace

bool matches_all_devices(const DeviceRule& rule) {
    return rule.type == 'a' && access_mask(rule.access) == all_access;
}

std::string to_cgroup_v1_string(const DeviceRule& rule) {
    if (matches_all_devices(rule)) return "a";
    auto number = [](const std::optional<std::uint32_t>& value) { return value ? std::to_string(*value) : std::string("*"); };
    return std::string(1, rule.type) + " " + number(rule.major) + ":" + number(rule.minor) + " " + rule.access;
}

const std::vector<DeviceRule>& default_allowed_devices() {
    static const std::vector<DeviceRule> rules{
        {.allow = true, .type = 'c', .major = std::nullopt, .minor = std::nullopt, .access = "m"},
        {.allow = true, .type = 'b', .major = std::nullopt, .minor = std::nullopt, .access = "m"},
        allow_char(1, 3),              // /dev/null
        allow_char(1, 5),              // /dev/zero
        allow_char(1, 7),              // /dev/full
        allow_char(1, 8),              // /dev/random
        allow_char(1, 9),              // /dev/urandom
        allow_char(5, 0),              // /dev/tty
        allow_char(5, 1),              // /dev/console
        allow_char(5, 2),              // /dev/ptmx
        allow_char(136, std::nullopt), // /dev/pts/*
        allow_char(10, 200),           // /dev/net/tun
    };
    return rules;
}

std::vector<DeviceRule> default_device_rules() {
    std::vector<DeviceRule> rules{DeviceRule{.allow = false, .type = 'a'}};
    rules.insert(rules.end(), default_allowed_devices().begin(), default_allowed_devices().end());
    return rules;
}

DeviceMapping parse_device_mapping(const std::string& text) {
    auto is_permissions = [](const std::string& field) {
        return !field.empty() && field.find_first_not_of("rwm") == std::string::npos;
    };
    std::vector<std::string> fields;
    size_t start = 0;
    while (true) {
        auto end = text.find(':', start);
        fields.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    const std::string hint = "use --device HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]], e.g. /dev/fuse:/dev/fuse:rw";
    if (fields.size() > 3) throw Error("invalid --device '" + text + "': too many fields", hint);

    DeviceMapping mapping;
    mapping.host_path = fields[0];
    if (fields.size() == 2 && is_permissions(fields[1])) {
        mapping.permissions = fields[1];
    } else if (fields.size() >= 2) {
        mapping.container_path = fields[1];
    }
    if (fields.size() == 3) mapping.permissions = fields[2];
    if (mapping.container_path.empty()) mapping.container_path = mapping.host_path;

    if (!mapping.host_path.is_absolute()) throw Error("invalid --device '" + text + "': the host path must be absolute", hint);
    if (!mapping.container_path.is_absolute()) {
        throw Error("invalid --device '" + text + "': the container path must be absolute", hint);
    }
    if (!is_permissions(mapping.permissions)) {
        throw Error("invalid --device '" + text + "': permissions must be a combination of r, w and m", hint);
    }
    return mapping;
}

DeviceRule device_rule_for(const DeviceMapping& mapping) {
    struct stat status {};
    if (stat(mapping.host_path.c_str(), &status) != 0) throw_errno("cannot use --device " + mapping.host_path.string());
    if (!S_ISCHR(status.st_mode) && !S_ISBLK(status.st_mode)) {
        throw Error("cannot use --device " + mapping.host_path.string() + ": not a character or block device");
    }
    return DeviceRule{.allow = true,
                      .type = S_ISBLK(status.st_mode) ? 'b' : 'c',
                      .major = major(status.st_rdev),
                      .minor = minor(status.st_rdev),
                      .access = mapping.permissions};
}

std::vector<DeviceRule> privileged_device_rules() { return {DeviceRule{.allow = true, .type = 'a'}}; }

std::vector<std::pair<std::string, std::string>> v1_device_writes(const std::vector<DeviceRule>& rules) {
    std::vector<std::pair<std::string, std::string>> writes;
    for (const auto& rule : rules) writes.emplace_back(rule.allow ? "devices.allow" : "devices.deny", to_cgroup_v1_string(rule));
    return writes;
}

std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules) {
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, where
    // access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*.
    std::vector<bpf_insn> program{
        instruction(BPF_LDX | BPF_MEM | BPF_W, type_reg, r1, 0, 0),
        instruction(BPF_ALU | BPF_AND | BPF_K, type_reg, 0, 0, 0xFFFF),
        instruction(BPF_LDX | BPF_MEM | BPF_W, access_reg, r1, 0, 0),
        instruction(BPF_ALU | BPF_RSH | BPF_K, access_reg, 0, 0, 16),
        instruction(BPF_LDX | BPF_MEM | BPF_W, major_reg, r1, 4, 0),
        instruction(BPF_LDX | BPF_MEM | BPF_W, minor_reg, r1, 8, 0),
    };
    // The last matching rule decides, so the blocks go in reverse order.
    for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
        auto block = rule_block(*rule);
        program.insert(program.end(), block.begin(), block.end());
        // Nothing before a rule for every device is ever reached.
        if (matches_all_devices(*rule)) return program;
    }
    program.push_back(instruction(BPF_ALU64 | BPF_MOV | BPF_K, r0, 0, 0, 1));
    program.push_back(instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    return program;
}

// NOTE: no test runs this load and attach, because the integration tests run on a cgroup
// v1 host. Only the program itself (device_filter_program) is unit-tested.
void attach_device_filter(const std::filesystem::path& directory, const std::vector<bpf_insn>& program) {
    static const char license[] = "Apache-2.0";
    union bpf_attr load;
    std::memset(&load, 0, sizeof(load));
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<std::uint64_t>(program.data());
    load.insn_cnt = static_cast<std::uint32_t>(program.size());
    load.license = reinterpret_cast<std::uint64_t>(license);
    UniqueFd program_fd(static_cast<int>(syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load))));
    if (!program_fd) throw_errno("cannot load the device filter for cgroup " + directory.string());

    UniqueFd cgroup_fd(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd) throw_errno("cannot open cgroup " + directory.string());

    union bpf_attr attach;
    std::memset(&attach, 0, sizeof(attach));
    attach.target_fd = static_cast<std::uint32_t>(cgroup_fd.get());
    attach.attach_bpf_fd = static_cast<std::uint32_t>(program_fd.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach)) != 0) {
        throw_errno("cannot attach the device filter to cgroup " + directory.string());
    }
    spdlog::debug("cgroup: attached a device filter of {} instructions to {}", program.size(), directory.string());
}

}  // namespace isolab::kernel
