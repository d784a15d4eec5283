// Reading container usage for `isolab stats` and `isolab top`: the cgroup v2 files on a
// fake host tree, the memory and CPU arithmetic, the table and the ps filter. The v1
// files are read for real in tests/integration/container_stats_test.cpp.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/container/stats.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/cgroup_stats.hpp"

namespace isolab::container {
namespace {

namespace fs = std::filesystem;

// A pure cgroup v2 host below a temporary folder, with one container cgroup.
class FakeV2Host : public ::testing::Test {
protected:
    void SetUp() override {
        write("proc/self/mountinfo", "31 25 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
        write("proc/self/cgroup", "0::/\n");
        write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        write(cgroup + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
        write(cgroup + "/memory.current", "10485760\n");
        write(cgroup + "/memory.stat", "anon 4194304\nfile 6291456\nactive_file 2097152\ninactive_file 4194304\n");
        write(cgroup + "/memory.max", "67108864\n");
        write(cgroup + "/pids.current", "3\n");
        write(cgroup + "/cgroup.procs", "101\n102\n");
        write(cgroup + "/sub/cgroup.procs", "103\n");
        write("proc/stat", "cpu  100 0 50 800 10 0 5 0 0 0\ncpu0 50 0 25 400 5 0 2 0 0 0\n");
        write("proc/meminfo", "MemTotal:        8046428 kB\nMemFree:         1000000 kB\nHugePages_Total:       0\n");
    }

    void write(const fs::path& relative, const std::string& content) {
        auto path = folder_.path() / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path) << content;
    }

    kernel::CgroupHost host() const { return kernel::detect_cgroups(folder_.path()); }

    const std::string cgroup = "sys/fs/cgroup/isolab-abc";
    TemporaryDirectory folder_{fs::temp_directory_path(), "isolab-fake-stats-"};
};

TEST_F(FakeV2Host, ReadsV2Usage) {
    auto usage = kernel::read_cgroup_usage(host(), "isolab-abc");

    EXPECT_EQ(usage.cpu_nanoseconds, 2500000000u);
    EXPECT_EQ(usage.memory_bytes, 10485760u - 4194304u) << "usage minus inactive_file";
    EXPECT_EQ(usage.memory_limit, 67108864u);
    EXPECT_EQ(usage.pids, 3u);
}

TEST_F(FakeV2Host, UnlimitedMemoryHasNoLimit) {
    write(cgroup + "/memory.max", "max\n");

    EXPECT_FALSE(kernel::read_cgroup_usage(host(), "isolab-abc").memory_limit.has_value());
}

TEST_F(FakeV2Host, MissingCgroupRejected) {
    EXPECT_THROW(kernel::read_cgroup_usage(host(), "isolab-gone"), Error);
}

TEST_F(FakeV2Host, ProcessesIncludeNestedCgroups) {
    EXPECT_EQ(kernel::cgroup_processes(host(), "isolab-abc"), (std::vector<pid_t>{101, 102, 103}));
}

TEST_F(FakeV2Host, HostCpuAndMemory) {
    // user nice system idle iowait irq softirq steal = 965 ticks.
    std::uint64_t nanoseconds_per_tick = 1000000000ULL / static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
    EXPECT_EQ(kernel::host_cpu_nanoseconds(folder_.path()), 965ULL * nanoseconds_per_tick);
    EXPECT_EQ(kernel::host_memory_bytes(folder_.path()), 8046428ULL * 1024ULL);
}

TEST(MemoryUsage, SubtractsInactiveFileByVersion) {
    const std::string v1_stat = "cache 100\ninactive_file 7\ntotal_inactive_file 30\n";
    const std::string v2_stat = "file 100\ninactive_file 40\n";

    EXPECT_EQ(kernel::memory_without_inactive_file(100, v1_stat, kernel::CgroupVersion::v1), 70u);
    EXPECT_EQ(kernel::memory_without_inactive_file(100, v2_stat, kernel::CgroupVersion::v2), 60u);
}

TEST(MemoryUsage, ClampedAtZero) {
    EXPECT_EQ(kernel::memory_without_inactive_file(10, "inactive_file 50\n", kernel::CgroupVersion::v2), 0u);
    EXPECT_EQ(kernel::memory_without_inactive_file(10, "", kernel::CgroupVersion::v1), 10u);
}

TEST(CpuPercent, ShareOfHostTimeTimesCpus) {
    // 0.5 s of container time in 2 s of host time (all CPUs together) on 4 CPUs: one full CPU.
    EXPECT_DOUBLE_EQ(cpu_percent(1000000000, 1500000000, 10000000000, 12000000000, 4), 100.0);
    EXPECT_DOUBLE_EQ(cpu_percent(5, 5, 100, 100, 2), 0.0);
    EXPECT_DOUBLE_EQ(cpu_percent(5, 4, 100, 200, 2), 0.0);
}

TEST(StatsTable, FormatsAsDocker) {
    EXPECT_EQ(format_bytes(0), "0B");
    EXPECT_EQ(format_bytes(1536), "1.5KiB");
    EXPECT_EQ(format_bytes(6291456), "6MiB");
    EXPECT_EQ(format_bytes(8239542272.0), "7.674GiB");

    ContainerStats row{std::string(64, 'a'), "calm_turing", 12.346, 6291456, 67108864, 9.375, 3};
    auto table = format_stats({row});

    EXPECT_EQ(table,
              "CONTAINER ID  NAME                      CPU %    MEM USAGE / LIMIT      MEM %    PIDS\n"
              "aaaaaaaaaaaa  calm_turing               12.35%   6MiB / 64MiB           9.38%    3\n");
}

TEST(TopFilter, KeepsHeaderAndContainerRows) {
    const std::string ps =
        "UID          PID    PPID  C STIME TTY          TIME CMD\n"
        "root           1       0  0 10:00 ?        00:00:01 /sbin/init\n"
        "root        4242    4200  0 10:01 ?        00:00:00 sleep 60\n"
        "nobody      4243    4242  0 10:01 ?        00:00:00 sh -c 4242\n";

    EXPECT_EQ(filter_ps_output(ps, {4242, 4243}),
              "UID          PID    PPID  C STIME TTY          TIME CMD\n"
              "root        4242    4200  0 10:01 ?        00:00:00 sleep 60\n"
              "nobody      4243    4242  0 10:01 ?        00:00:00 sh -c 4242\n");
}

TEST(TopFilter, FindsPidColumnAnywhere) {
    const std::string ps = "COMMAND  PID\nsleep    10\ninit     1\n";

    EXPECT_EQ(filter_ps_output(ps, {10}), "COMMAND  PID\nsleep    10\n");
}

TEST(TopFilter, NoPidColumnRejected) {
    EXPECT_THROW(filter_ps_output("COMMAND\nsleep\n", {1}), Error);
}

}  // namespace
}  // namespace isolab::container
