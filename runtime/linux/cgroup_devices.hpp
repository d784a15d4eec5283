#pragma once
// The device controller of a container's cgroup: the rules that decide which device nodes
// the container may create (mknod) and open, written to devices.deny and devices.allow
// on cgroup v1 and compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program on cgroup v2,
// where the kernel has no device control files.
#include <linux/bpf.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace isolab::kernel {

// One rule in the format of the v1 devices.allow file ("c 1:3 rwm"). An unset major or
// minor matches every number ("*").
struct DeviceRule {
    bool allow = true;
    char type = 'a';                     // 'a' (all), 'c' (character) or 'b' (block)
    std::optional<std::uint32_t> major;
    std::optional<std::uint32_t> minor;
    std::string access = "rwm";          // r (read), w (write), m (mknod), in any order

    bool operator==(const DeviceRule&) const = default;
};

// The rule as devices.allow and devices.deny take it: "a" for all devices with all
// access, else "<type> <major>:<minor> <access>".
std::string to_cgroup_v1_string(const DeviceRule& rule);

// True when the rule matches every device with every access.
bool matches_all_devices(const DeviceRule& rule);

// The device nodes a container may always use: mknod of any node, and read, write and
// mknod of null, zero, full, random, urandom, tty, console, ptmx, the pts range and
// net/tun. The list is Docker's default device allow-list.
const std::vector<DeviceRule>& default_allowed_devices();

// Docker's default rules: deny everything, then default_allowed_devices().
std::vector<DeviceRule> default_device_rules();

// A --device HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] request.
struct DeviceMapping {
    std::filesystem::path host_path;
    std::filesystem::path container_path;  // the host path when the request gives none
    std::string permissions = "rwm";

    bool operator==(const DeviceMapping&) const = default;
};

// Parses a --device value as Docker does, where a second field of only r, w and m is the
// permissions. Throws Error on a relative path or invalid permissions.
DeviceMapping parse_device_mapping(const std::string& text);

// The allow rule for the host node of `mapping`. Throws Error when the host path is
// missing or is not a character or block device.
DeviceRule device_rule_for(const DeviceMapping& mapping);

// The rules of --privileged: every device with every access.
std::vector<DeviceRule> privileged_device_rules();

// The (control file, value) writes that put `rules` in place on cgroup v1, in order:
// each rule goes to devices.allow or devices.deny, as runc writes them.
std::vector<std::pair<std::string, std::string>> v1_device_writes(const std::vector<DeviceRule>& rules);

// A BPF_PROG_TYPE_CGROUP_DEVICE program that returns 1 (allow) or 0 (deny) for the
// access in its struct bpf_cgroup_dev_ctx. The last matching rule decides, and a rule
// only matches when its access contains every requested access, as in runc's device
// filter. A rule matching every device ends the search. Without such a rule the
// program allows what no rule matches, as a v1 cgroup in its default allow mode does.
std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules);

// Loads `program` with bpf(BPF_PROG_LOAD) and attaches it with BPF_F_ALLOW_MULTI to the
// v2 cgroup `directory`. The attachment keeps the program loaded until the cgroup is removed.
// Throws Error naming the cgroup when the kernel rejects either call.
void attach_device_filter(const std::filesystem::path& directory, const std::vector<bpf_insn>& program);

}  // namespace isolab::kernel
