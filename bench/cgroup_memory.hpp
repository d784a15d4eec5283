#pragma once
// Reading a memory cgroup's counters in cgroup v1 and v2.
//
// usage (v1 memory.usage_in_bytes, v2 memory.current) includes the page cache. The
// working set, as kubelet and `docker stats` report it, subtracts the inactive file
// pages that the kernel can reclaim at once: inactive_file in v2 memory.stat,
// total_inactive_file in v1 (which, unlike v1's inactive_file, includes child cgroups).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace isolab::bench {

enum class CgroupVersion { v1, v2 };

// Parses memory.stat ("name value" per line, values in bytes or pages as the kernel
// writes them). Throws Error for a line that is not "name number".
std::map<std::string, std::uint64_t> parse_memory_stat(std::string_view text);

// The inactive file bytes of a parsed memory.stat: total_inactive_file for v1,
// inactive_file for v2. Throws Error when the field is missing.
std::uint64_t inactive_file_bytes(const std::map<std::string, std::uint64_t>& stat, CgroupVersion version);

// usage minus inactive file pages, clamped at 0: usage and memory.stat are read at
// slightly different moments, so the cache may briefly exceed the usage.
std::uint64_t working_set_bytes(std::uint64_t usage_bytes, std::uint64_t inactive_file);

// Counters of one memory cgroup folder (a v1 memory controller folder or a v2 folder).
struct CgroupMemory {
    std::uint64_t usage_bytes = 0;
    std::optional<std::uint64_t> peak_bytes;  // v1 memory.max_usage_in_bytes, v2 memory.peak (Linux 5.19+)
    std::uint64_t working_set_bytes = 0;
};

// Reads the counters of `folder`. Throws Error naming the file that cannot be read.
CgroupMemory read_cgroup_memory(const std::filesystem::path& folder, CgroupVersion version);

// Detects the cgroup version mounted at /sys/fs/cgroup (or `mount_point`): v2 when the
// unified hierarchy is mounted there (cgroup.controllers exists), otherwise v1.
CgroupVersion detect_cgroup_version(const std::filesystem::path& mount_point = "/sys/fs/cgroup");

std::string to_string(CgroupVersion version);

}  // namespace isolab::bench
