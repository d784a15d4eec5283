#pragma once
// Reading what a cgroup uses right now (CPU time, memory, processes) from its control
// files on cgroup v1 and v2, for `isolab stats` and `isolab top`. Paths are relative to
// the host root in CgroupHost, so the unit tests read a fake tree.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/linux/cgroups.hpp"

namespace isolab::kernel {

struct CgroupUsage {
    std::uint64_t cpu_nanoseconds = 0;   // CPU time used since the cgroup was created
    std::uint64_t memory_bytes = 0;      // usage without the inactive file cache, as docker stats shows it
    std::optional<std::uint64_t> memory_limit;  // nullopt: no limit below the host's memory
    std::uint64_t pids = 0;              // processes and threads
};

// Memory usage as Docker counts it: usage minus inactive file cache (v1 memory.stat
// total_inactive_file, v2 inactive_file), clamped at 0.
std::uint64_t memory_without_inactive_file(std::uint64_t usage, const std::string& memory_stat, CgroupVersion version);

// Reads the usage of the cgroup `name` (e.g. "isolab-<id>"). Files that are missing
// (a controller not mounted) count as 0. Throws Error when the cgroup does not exist.
CgroupUsage read_cgroup_usage(const CgroupHost& host, const std::string& name);

// Every process in the cgroup `name` and in the cgroups below it, by host pid, sorted.
std::vector<pid_t> cgroup_processes(const CgroupHost& host, const std::string& name);

// The host's total CPU time in nanoseconds (the sum of the cpu line of <host root>/proc/stat).
std::uint64_t host_cpu_nanoseconds(const std::filesystem::path& host_root = "/");

// MemTotal of <host root>/proc/meminfo in bytes.
std::uint64_t host_memory_bytes(const std::filesystem::path& host_root = "/");

}  // namespace isolab::kernel
