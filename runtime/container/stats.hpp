#pragma once
// `isolab stats` and `isolab top`: what running containers use, read from their cgroups,
// and their processes as the host sees them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"
#include "runtime/linux/cgroup_stats.hpp"

namespace isolab::container {

// One row of `isolab stats`.
struct ContainerStats {
    std::string id;                 // 64 hex digits
    std::string name;
    double cpu_percent = 0;         // of one CPU, so up to 100 times the number of CPUs, as Docker
    std::uint64_t memory_bytes = 0; // usage without inactive file cache
    std::uint64_t memory_limit = 0; // the cgroup's limit, or the host's memory without one
    double memory_percent = 0;
    std::uint64_t pids = 0;
};

// CPU % as docker stats computes it: the container's share of the host's CPU time between
// two readings, times the number of CPUs, times 100. 0 when the host time did not advance.
double cpu_percent(std::uint64_t container_before, std::uint64_t container_after, std::uint64_t host_before,
                   std::uint64_t host_after, unsigned cpus);

// Formats a byte count as Docker does (binary units, four significant digits): "1.5MiB".
std::string format_bytes(double bytes);

// The stats table: CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, PIDS.
std::string format_stats(const std::vector<ContainerStats>& rows);

// Reads two samples `interval_ms` apart of the named containers (empty: every running
// one). Throws Error for a name that is not found or not running.
std::vector<ContainerStats> sample_stats(const Paths& paths, const std::vector<std::string>& names, unsigned interval_ms = 1000);

// Prints the table once (`no_stream`) or every second until interrupted, clearing the
// terminal before each table as docker stats does.
void print_stats(const Paths& paths, const std::vector<std::string>& names, bool no_stream);

// The container's processes as `ps` on the host shows them: the header line and the rows
// whose PID is in the container's cgroup. `ps_options` default to "-ef" (columns UID PID
// PPID C STIME TTY TIME CMD). Throws Error when the container is not running, when ps
// fails, or when its output has no PID column.
std::string top(const Paths& paths, const std::string& name, const std::vector<std::string>& ps_options);

// Keeps the header and the rows of `ps_output` whose PID column is one of `pids`.
std::string filter_ps_output(const std::string& ps_output, const std::vector<pid_t>& pids);

}  // namespace isolab::container
