// Cgroup detection and cgroup folders on fake host trees: a temporary folder holding what
// /proc/self/mountinfo, /proc/self/cgroup and the cgroup mounts show on v1, v2 and hybrid hosts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"

namespace isolab::kernel {
namespace {

namespace fs = std::filesystem;

const char* v1_mountinfo =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";

const char* hybrid_extra = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

const char* v2_mountinfo =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 25 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

// A host tree below a temporary folder.
class FakeHost {
public:
    FakeHost() : folder_(fs::temp_directory_path(), "isolab-fake-cgroup-") {}

    void write(const fs::path& relative, const std::string& content) {
        auto path = root() / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path) << content;
    }
    void make_folder(const fs::path& relative) { fs::create_directories(root() / relative); }
    const fs::path& root() const { return folder_.path(); }

private:
    TemporaryDirectory folder_;
};

TEST(CgroupDetection, PureV1) {
    FakeHost host;
    host.write("proc/self/mountinfo", v1_mountinfo);
    host.write("proc/self/cgroup", "4:memory:/user.slice\n2:cpu,cpuacct:/\n1:name=systemd:/init.scope\n");

    auto detected = detect_cgroups(host.root());

    EXPECT_EQ(detected.version, CgroupVersion::v1);
    EXPECT_EQ(detected.v1_hierarchies.at("memory"), "/sys/fs/cgroup/memory");
    EXPECT_EQ(detected.v1_hierarchies.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(detected.v1_hierarchies.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_FALSE(detected.v1_hierarchies.contains("name=systemd"));
    EXPECT_FALSE(detected.v1_hierarchies.contains("xattr"));
    EXPECT_TRUE(detected.unified_mount.empty());
    EXPECT_EQ(detected.self_paths.at("memory"), "/user.slice");
}

TEST(CgroupDetection, PureV2WithControllers) {
    FakeHost host;
    host.write("proc/self/mountinfo", v2_mountinfo);
    host.write("proc/self/cgroup", "0::/user.slice/session-1.scope\n");
    host.write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");

    auto detected = detect_cgroups(host.root());

    EXPECT_EQ(detected.version, CgroupVersion::v2);
    EXPECT_EQ(detected.unified_mount, "/sys/fs/cgroup");
    EXPECT_TRUE(detected.v1_hierarchies.empty());
    EXPECT_EQ(detected.self_paths.at(""), "/user.slice/session-1.scope");
    ASSERT_EQ(detected.unified_controllers.size(), 8u);
    EXPECT_EQ(detected.unified_controllers[3], "memory");
}

TEST(CgroupDetection, HybridUsesV1Controllers) {
    FakeHost host;
    host.write("proc/self/mountinfo", std::string(v1_mountinfo) + hybrid_extra);
    host.write("proc/self/cgroup", "4:memory:/\n0::/\n");
    host.write("sys/fs/cgroup/unified/cgroup.controllers", "");

    auto detected = detect_cgroups(host.root());

    EXPECT_EQ(detected.version, CgroupVersion::v1);
    EXPECT_EQ(detected.unified_mount, "/sys/fs/cgroup/unified");
    EXPECT_TRUE(detected.unified_controllers.empty());
}

TEST(CgroupDetection, UnifiedMountWithoutControllersIsNotV2) {
    FakeHost host;
    host.write("proc/self/mountinfo", std::string("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n") + hybrid_extra);
    host.write("proc/self/cgroup", "0::/\n");
    host.write("sys/fs/cgroup/unified/cgroup.controllers", "\n");

    EXPECT_THROW(detect_cgroups(host.root()), Error);
}

TEST(CgroupDetection, NoCgroupMountsIsAnError) {
    FakeHost host;
    host.write("proc/self/mountinfo", "25 30 0:23 / /sys rw - sysfs sysfs rw\n");
    host.write("proc/self/cgroup", "");

    try {
        detect_cgroups(host.root());
        FAIL() << "detect_cgroups accepted a host without cgroups";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("no usable cgroup hierarchy"), std::string::npos);
        EXPECT_FALSE(error.hint().empty());
    }
}

TEST(CgroupMountinfo, UnescapesMountPoints) {
    auto mounts = parse_cgroup_mounts("35 31 0:32 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n");
    ASSERT_EQ(mounts.size(), 1u);
    EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/my memory");
    EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"memory"});
}

TEST(CgroupMountinfo, OptionalFieldsBeforeSeparator) {
    auto mounts = parse_cgroup_mounts(
        "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:14 master:2 - cgroup cgroup rw,memory,clone_children\n");
    ASSERT_EQ(mounts.size(), 1u);
    EXPECT_EQ(mounts[0].filesystem, "cgroup");
    EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"memory"});
}

TEST(CgroupPaths, V1OneFolderPerHierarchy) {
    FakeHost host;
    host.write("proc/self/mountinfo", std::string(v1_mountinfo) + hybrid_extra);
    host.write("proc/self/cgroup", "");
    auto detected = detect_cgroups(host.root());

    auto directories = cgroup_directories(detected, "isolab-abc");

    // memory, pids and cpu,cpuacct (shared); cpuset is not used, blkio and freezer are absent.
    ASSERT_EQ(directories.size(), 3u);
    EXPECT_EQ(directories[0], host.root() / "sys/fs/cgroup/memory/isolab-abc");
    EXPECT_EQ(directories[1], host.root() / "sys/fs/cgroup/pids/isolab-abc");
    EXPECT_EQ(directories[2], host.root() / "sys/fs/cgroup/cpu,cpuacct/isolab-abc");
}

TEST(CgroupPaths, V2OneFolder) {
    FakeHost host;
    host.write("proc/self/mountinfo", v2_mountinfo);
    host.write("proc/self/cgroup", "0::/\n");
    host.write("sys/fs/cgroup/cgroup.controllers", "memory pids cpu\n");
    auto detected = detect_cgroups(host.root());

    auto directories = cgroup_directories(detected, "isolab-abc");

    ASSERT_EQ(directories.size(), 1u);
    EXPECT_EQ(directories[0], host.root() / "sys/fs/cgroup/isolab-abc");
}

TEST(CgroupV2Fake, WritesLimitsAndEnablesControllers) {
    FakeHost host;
    host.write("proc/self/mountinfo", v2_mountinfo);
    host.write("proc/self/cgroup", "0::/\n");
    host.write("sys/fs/cgroup/cgroup.controllers", "memory pids cpu\n");
    host.write("sys/fs/cgroup/cgroup.subtree_control", "pids\n");
    auto detected = detect_cgroups(host.root());

    auto cgroup = create_cgroup(detected, "isolab-fake");
    auto directory = host.root() / "sys/fs/cgroup/isolab-fake";
    ASSERT_TRUE(fs::is_directory(directory));
    // A real cgroupfs creates the control files; the fake tree needs them written.
    host.write("sys/fs/cgroup/isolab-fake/memory.swap.max", "max\n");
    CgroupLimits limits;
    limits.memory = 64ULL << 20;
    limits.pids = 100;
    limits.cpus = 1.5;
    limits.cpu_shares = 512;
    cgroup->apply(limits);
    cgroup->add_process(4242);

    EXPECT_EQ(read_file(directory / "memory.max"), "67108864");
    EXPECT_EQ(read_file(directory / "memory.swap.max"), "0");
    EXPECT_EQ(read_file(directory / "pids.max"), "100");
    EXPECT_EQ(read_file(directory / "cpu.max"), "150000 100000");
    EXPECT_EQ(read_file(directory / "cpu.weight"), std::to_string(cpu_shares_to_weight(512)));
    EXPECT_EQ(read_file(directory / "cgroup.procs"), "4242");
    // The fake file keeps the last write: cpu was enabled after memory.
    EXPECT_EQ(read_file(host.root() / "sys/fs/cgroup/cgroup.subtree_control"), "+cpu");
}

TEST(CgroupV2Fake, PeakFromMemoryPeakOrSamples) {
    FakeHost host;
    host.write("proc/self/mountinfo", v2_mountinfo);
    host.write("proc/self/cgroup", "0::/\n");
    host.write("sys/fs/cgroup/cgroup.controllers", "memory\n");
    auto detected = detect_cgroups(host.root());
    auto cgroup = create_cgroup(detected, "isolab-peak");

    EXPECT_TRUE(cgroup->needs_sampling());
    host.write("sys/fs/cgroup/isolab-peak/memory.current", "1000\n");
    cgroup->sample_memory();
    host.write("sys/fs/cgroup/isolab-peak/memory.current", "5000\n");
    cgroup->sample_memory();
    host.write("sys/fs/cgroup/isolab-peak/memory.current", "2000\n");
    EXPECT_EQ(cgroup->memory_peak(), 5000u);

    host.write("sys/fs/cgroup/isolab-peak/memory.peak", "7000\n");
    EXPECT_FALSE(cgroup->needs_sampling());
    EXPECT_EQ(cgroup->memory_peak(), 7000u);
}

// Detects a v1 host in `host` with the hierarchies of v1_mountinfo, plus devices when `with_devices` is true.
CgroupHost detect_fake_v1(FakeHost& host, bool with_devices) {
    std::string mountinfo = v1_mountinfo;
    std::vector<std::string> hierarchies{"memory", "pids", "cpu,cpuacct"};
    if (with_devices) {
        mountinfo += "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n";
        hierarchies.push_back("devices");
    }
    host.write("proc/self/mountinfo", mountinfo);
    host.write("proc/self/cgroup", "");
    for (const auto& hierarchy : hierarchies) host.make_folder(fs::path("sys/fs/cgroup") / hierarchy);
    return detect_cgroups(host.root());
}

TEST(CgroupV1Fake, MemoryLimitAndSwap) {
    FakeHost host;
    auto detected = detect_fake_v1(host, false);
    auto cgroup = create_cgroup(detected, "isolab-v1");
    auto memory = host.root() / "sys/fs/cgroup/memory/isolab-v1";
    host.write("sys/fs/cgroup/memory/isolab-v1/memory.limit_in_bytes", "");
    host.write("sys/fs/cgroup/memory/isolab-v1/memory.memsw.limit_in_bytes", "");
    host.write("sys/fs/cgroup/memory/isolab-v1/memory.max_usage_in_bytes", "123456\n");
    host.write("sys/fs/cgroup/pids/isolab-v1/pids.max", "");

    CgroupLimits limits;
    limits.memory = 32ULL << 20;
    limits.pids = 10;
    cgroup->apply(limits);

    EXPECT_EQ(read_file(memory / "memory.limit_in_bytes"), "33554432");
    EXPECT_EQ(read_file(memory / "memory.memsw.limit_in_bytes"), "33554432");
    EXPECT_EQ(read_file(host.root() / "sys/fs/cgroup/pids/isolab-v1/pids.max"), "10");
    EXPECT_EQ(cgroup->memory_peak(), 123456u);
    EXPECT_EQ(cgroup->version(), CgroupVersion::v1);
}

TEST(CgroupV1Fake, DeviceRulesWritten) {
    FakeHost host;
    auto detected = detect_fake_v1(host, true);
    auto cgroup = create_cgroup(detected, "isolab-devices");
    auto devices = host.root() / "sys/fs/cgroup/devices/isolab-devices";
    ASSERT_TRUE(fs::is_directory(devices));
    host.write("sys/fs/cgroup/devices/isolab-devices/devices.allow", "");
    host.write("sys/fs/cgroup/devices/isolab-devices/devices.deny", "");

    CgroupLimits limits;
    limits.devices = default_device_rules();
    cgroup->apply(limits);

    // The fake files keep the last write of each: the deny-all, then the last allow rule.
    EXPECT_EQ(read_file(devices / "devices.deny"), "a");
    EXPECT_EQ(read_file(devices / "devices.allow"), "c 10:200 rwm");
    EXPECT_NE(std::find(cgroup->directories().begin(), cgroup->directories().end(), devices), cgroup->directories().end());
}

TEST(CgroupV1Fake, DeviceRulesNeedDevicesController) {
    FakeHost host;
    auto detected = detect_fake_v1(host, false);
    auto cgroup = create_cgroup(detected, "isolab-nodevices");

    CgroupLimits limits;
    limits.devices = default_device_rules();
    EXPECT_THROW(cgroup->apply(limits), Error);
}

TEST(CgroupWeight, ConvertsShares) {
    EXPECT_EQ(cpu_shares_to_weight(2), 1u);
    EXPECT_EQ(cpu_shares_to_weight(1024), 39u);
    EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
}

}  // namespace
}  // namespace isolab::kernel
