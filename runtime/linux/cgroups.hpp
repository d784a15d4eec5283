#pragma once
// Control groups: finding out how the host mounts them (v1 hierarchies, the v2 unified
// hierarchy or both) and one cgroup per container that applies its limits, reports its
// memory peak and removes itself.
//
// Detection reads <host root>/proc/self/mountinfo and <host root>/proc/self/cgroup and
// looks for the control files below the mount points found there, all relative to a host
// root that is "/" on a real host and a temporary folder in the unit tests.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/error.hpp"
#include "runtime/linux/cgroup_devices.hpp"

namespace isolab::kernel {

enum class CgroupVersion { v1, v2 };

std::string_view to_string(CgroupVersion version);

// One line of /proc/self/mountinfo whose filesystem is cgroup or cgroup2.
struct CgroupMount {
    std::filesystem::path mount_point;
    std::string filesystem;                 // "cgroup" or "cgroup2"
    std::vector<std::string> controllers;   // v1: from the super options; v2: empty here
};

// How the host provides cgroups. A hybrid host (v1 controllers plus a unified mount
// without controllers) is a v1 host: the limits must go where the controllers are.
struct CgroupHost {
    CgroupVersion version = CgroupVersion::v1;
    std::filesystem::path host_root = "/";
    std::map<std::string, std::filesystem::path> v1_hierarchies;  // controller -> mount point
    std::filesystem::path unified_mount;                          // cgroup2 mount point, if any
    std::vector<std::string> unified_controllers;                 // from cgroup.controllers
    std::map<std::string, std::string> self_paths;                // /proc/self/cgroup: controller ("" for v2) -> path

    // A path from mountinfo (absolute on the host) as seen below host_root.
    std::filesystem::path on_host(const std::filesystem::path& mount_point) const;
};

// Decodes a path field of /proc/self/mountinfo, where space, tab, newline and backslash
// are written as octal escapes (\040).
std::string unescape_mount_path(std::string_view text);

// Parses the cgroup mounts out of mountinfo text.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// Parses /proc/self/cgroup text into controller -> path ("" is the unified hierarchy).
std::map<std::string, std::string> parse_self_cgroup(std::string_view text);

// Detects the host's cgroup setup below `host_root`. Throws Error when neither v1
// controllers nor a v2 hierarchy with controllers is mounted.
CgroupHost detect_cgroups(const std::filesystem::path& host_root = "/");

// The v1 controllers a container cgroup is created in, when the host mounts them.
const std::vector<std::string>& v1_container_controllers();

// The folders a cgroup named `name` occupies: one per v1 hierarchy, or one on v2.
std::vector<std::filesystem::path> cgroup_directories(const CgroupHost& host, const std::string& name);

struct CgroupLimits {
    std::optional<std::uint64_t> memory;        // bytes
    std::optional<std::uint64_t> memory_swap;   // memory plus swap, bytes; unset: same as memory
    bool unlimited_swap = false;                // --memory-swap -1
    std::optional<std::int64_t> pids;
    std::optional<double> cpus;                 // CPU time as a number of CPUs
    std::optional<std::uint64_t> cpu_shares;    // relative weight, 1024 by default (v1 units)
    std::optional<std::vector<DeviceRule>> devices;  // applied in order; unset: every device allowed
};

// A container's cgroup. The constructor creates its folders; the destructor kills any
// process left in it and removes them, so no cgroup outlives its owner.
class Cgroup {
public:
    virtual ~Cgroup() = default;
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    virtual CgroupVersion version() const = 0;
    const std::vector<std::filesystem::path>& directories() const { return directories_; }

    // Writes the limits into the control files.
    virtual void apply(const CgroupLimits& limits) = 0;
    // Moves a process into the cgroup.
    void add_process(pid_t pid);
    // Reads the memory usage now and keeps the maximum, for hosts without a peak counter.
    virtual void sample_memory() {}
    // True when memory_peak() depends on sample_memory() being called while the workload runs.
    virtual bool needs_sampling() const { return false; }
    // The peak memory usage of the cgroup in bytes.
    virtual std::uint64_t memory_peak() = 0;
    // Number of processes killed for running out of memory, when the kernel counts them.
    virtual std::uint64_t oom_kills() { return 0; }
    // Kills every process in the cgroup and removes the folders. Safe to call twice.
    void remove();
    // Leaves the folders and their processes in place: another owner removes them later
    // with remove_cgroup_directories(), as `isolab oci delete` does after `oci create`.
    void keep() { removed_ = true; }

protected:
    explicit Cgroup(std::vector<std::filesystem::path> directories);
    void create_directories();
    std::vector<std::filesystem::path> directories_;

private:
    bool removed_ = false;
};

// Creates the cgroup `name` (e.g. "isolab-<id>") in the detected hierarchies.
std::unique_ptr<Cgroup> create_cgroup(const CgroupHost& host, const std::string& name);

// Kills every process in each folder and removes the folders, children first (the last
// of `directories` first). Missing folders are skipped; failures are logged.
void remove_cgroup_directories(const std::vector<std::filesystem::path>& directories);

// Reads the first number in a control file; nullopt when missing or "max".
std::optional<std::uint64_t> read_cgroup_number(const std::filesystem::path& file);

// Writes a value into a control file, logging it at debug level. Throws Error naming
// the file and value.
void write_cgroup_file(const std::filesystem::path& file, const std::string& value);

// v2 cpu.weight (1..10000) for a v1 cpu.shares value (2..262144), as runc converts it.
std::uint64_t cpu_shares_to_weight(std::uint64_t shares);

// Every cgroup hierarchy mounted on the host, including named v1 hierarchies such as
// name=systemd, where runc and crun also create their cgroups.
std::vector<std::filesystem::path> cgroup_mount_points(const CgroupHost& host);

// Names of cgroup folders with the isolab prefix left on the host (for prune).
std::vector<std::filesystem::path> find_isolab_cgroups(const CgroupHost& host);

}  // namespace isolab::kernel
