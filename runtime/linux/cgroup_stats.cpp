#include "runtime/linux/cgroup_stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

namespace {

// The value of `key` in a "key value" file such as memory.stat or cpu.stat.
std::optional<std::uint64_t> keyed_value(const std::string& text, const std::string& key) {
    std::istringstream lines(text);
    std::string name;
    std::uint64_t value = 0;
    while (lines >> name >> value) {
        if (name == key) return value;
    }
    return std::nullopt;
}

std::string read_if_present(const fs::path& path) {
    std::error_code error;
    return fs::exists(path, error) ? read_file(path) : std::string();
}

// The folder of cgroup `name` in the v1 hierarchy of `controller`, when that is mounted.
std::optional<fs::path> v1_directory(const CgroupHost& host, const std::string& controller, const std::string& name) {
    auto hierarchy = host.v1_hierarchies.find(controller);
    if (hierarchy == host.v1_hierarchies.end()) return std::nullopt;
    return host.on_host(hierarchy->second) / name;
}

CgroupUsage read_v1_usage(const CgroupHost& host, const std::string& name) {
    CgroupUsage usage;
    if (auto cpu = v1_directory(host, "cpuacct", name)) usage.cpu_nanoseconds = read_cgroup_number(*cpu / "cpuacct.usage").value_or(0);
    if (auto memory = v1_directory(host, "memory", name)) {
        auto current = read_cgroup_number(*memory / "memory.usage_in_bytes").value_or(0);
        usage.memory_bytes = memory_without_inactive_file(current, read_if_present(*memory / "memory.stat"), CgroupVersion::v1);
        // v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages).
        auto limit = read_cgroup_number(*memory / "memory.limit_in_bytes");
        if (limit && *limit < (1ULL << 62)) usage.memory_limit = limit;
    }
    if (auto pids = v1_directory(host, "pids", name)) usage.pids = read_cgroup_number(*pids / "pids.current").value_or(0);
    return usage;
}

CgroupUsage read_v2_usage(const fs::path& directory) {
    CgroupUsage usage;
    if (auto micros = keyed_value(read_if_present(directory / "cpu.stat"), "usage_usec")) usage.cpu_nanoseconds = *micros * 1000;
    auto current = read_cgroup_number(directory / "memory.current").value_or(0);
    usage.memory_bytes = memory_without_inactive_file(current, read_if_present(directory / "memory.stat"), CgroupVersion::v2);
    usage.memory_limit = read_cgroup_number(directory / "memory.max");
    usage.pids = read_cgroup_number(directory / "pids.current").value_or(0);
    return usage;
}

void collect_processes(const fs::path& directory, std::set<pid_t>& pids) {
    std::ifstream procs(directory / "cgroup.procs");
    pid_t pid = 0;
    while (procs >> pid) pids.insert(pid);
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        if (entry.is_directory(error)) collect_processes(entry.path(), pids);
    }
}

}  // namespace

std::uint64_t memory_without_inactive_file(std::uint64_t usage, const std::string& memory_stat, CgroupVersion version) {
    auto inactive = keyed_value(memory_stat, version == CgroupVersion::v1 ? "total_inactive_file" : "inactive_file").value_or(0);
    return usage > inactive ? usage - inactive : 0;
}

CgroupUsage read_cgroup_usage(const CgroupHost& host, const std::string& name) {
    auto directories = cgroup_directories(host, name);
    std::error_code error;
    if (directories.empty() || !fs::is_directory(directories.front(), error)) {
        throw Error("cgroup " + name + " not found", "the container may have just stopped");
    }
    if (host.version == CgroupVersion::v2) return read_v2_usage(directories.front());
    return read_v1_usage(host, name);
}

std::vector<pid_t> cgroup_processes(const CgroupHost& host, const std::string& name) {
    std::set<pid_t> pids;
    for (const auto& directory : cgroup_directories(host, name)) {
        std::error_code error;
        if (fs::is_directory(directory, error)) collect_processes(directory, pids);
    }
    return {pids.begin(), pids.end()};
}

std::uint64_t host_cpu_nanoseconds(const fs::path& host_root) {
    std::ifstream stat(host_root / "proc/stat");
    std::string label;
    stat >> label;
    if (label != "cpu") throw Error("cannot read the host's CPU time from " + (host_root / "proc/stat").string());
    // user nice system idle iowait irq softirq steal, in clock ticks; guest time is already in user.
    std::uint64_t total = 0;
    std::uint64_t value = 0;
    for (int field = 0; field < 8 && stat >> value; ++field) total += value;
    static const long ticks_per_second = sysconf(_SC_CLK_TCK);
    return total * (1000000000ULL / static_cast<std::uint64_t>(ticks_per_second));
}

std::uint64_t host_memory_bytes(const fs::path& host_root) {
    std::ifstream meminfo(host_root / "proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        std::istringstream fields(line);
        std::string key;
        std::uint64_t kibibytes = 0;
        if (fields >> key >> kibibytes && key == "MemTotal:") return kibibytes * 1024;
    }
    throw Error("cannot read MemTotal from " + (host_root / "proc/meminfo").string());
}

}  // namespace isolab::kernel
