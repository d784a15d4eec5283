// `isolab system prune` removes what a killed run leaves: stopped container records, mounts
// below the state root, isolab cgroups and unfinished guest cache files, and leaves a live
// container alone.
#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// libvirt's test driver: an in-memory host of its own, so `system prune` reaches no real
// libvirt domain.
constexpr const char* test_driver = "test:///default";

bool mounted(const fs::path& path) {
    return read_file("/proc/self/mountinfo").find(" " + path.string() + " ") != std::string::npos;
}

TEST(SystemPrune, RemovesLeftovers) {
    if (!testing::running_as_root()) GTEST_SKIP() << "needs root";
    testing::TestRoot root;

    auto kept = testing::run_isolab(root.paths(), {"run", "--name", "stopped", "busybox", "true"});
    ASSERT_EQ(kept.exit_code, 0) << kept.err;

    // What a run killed with SIGKILL leaves: a mount below the state root and a cgroup.
    std::string id = random_hex_id();
    auto rootfs = root.root() / "containers" / id / "rootfs";
    fs::create_directories(rootfs);
    ASSERT_EQ(mount("tmpfs", rootfs.c_str(), "tmpfs", 0, nullptr), 0);
    auto host = kernel::detect_cgroups();
    // runc and crun also create cgroups in named hierarchies such as name=systemd.
    std::vector<fs::path> cgroups;
    for (const auto& mount_point : kernel::cgroup_mount_points(host)) cgroups.push_back(mount_point / ("isolab-" + id));
    for (const auto& directory : cgroups) fs::create_directories(directory);

    // What a process killed while building a guest cache file leaves: a base disk's work
    // folder and a partial initramfs part.
    fs::path disk_build = root.paths().cache / "disks" / (".build-" + id);
    fs::path partial_part = root.paths().cache / "initramfs" / ("prune-test.cpio.partial-" + id);
    fs::create_directories(disk_build);
    write_file_atomic(disk_build / "rootfs.ext4", "unfinished");
    write_file_atomic(partial_part, "unfinished");

    auto refused = testing::run_isolab(root.paths(), {"system", "prune", "--connect", test_driver});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    EXPECT_TRUE(mounted(rootfs)) << "nothing may be removed without confirmation";

    auto pruned = testing::run_isolab(root.paths(), {"system", "prune", "--force", "--connect", test_driver});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_FALSE(mounted(rootfs));
    for (const auto& directory : cgroups) EXPECT_FALSE(fs::exists(directory)) << directory;
    EXPECT_NE(pruned.out.find("removed container"), std::string::npos) << pruned.out;
    EXPECT_FALSE(fs::exists(disk_build));
    EXPECT_FALSE(fs::exists(partial_part));
    EXPECT_NE(pruned.out.find("removed unfinished guest file " + disk_build.string()), std::string::npos) << pruned.out;

    auto listing = testing::run_isolab(root.paths(), {"ps", "-a", "-q"});
    EXPECT_EQ(listing.out, "");
}

// As `docker system prune` does, user-defined networks go once no container uses them,
// including those that only stopped containers, removed by the same prune, named. The
// default network's bridge stays while a container runs on it.
TEST(SystemPrune, RemovesUnusedNetworks) {
    if (!testing::running_as_root()) GTEST_SKIP() << "needs root";
    testing::TestRoot root;
    auto isolab = [&](const std::vector<std::string>& arguments) { return testing::run_isolab(root.paths(), arguments); };
    for (const char* name : {"unused", "used", "stopped-only"}) ASSERT_EQ(isolab({"network", "create", name}).exit_code, 0) << name;
    ASSERT_EQ(isolab({"run", "-d", "--name", "on-used", "--network", "used", "busybox", "sleep", "60"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "--name", "done", "--network", "stopped-only", "busybox", "true"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "-d", "--name", "on-default", "busybox", "sleep", "60"}).exit_code, 0);
    auto default_bridge = json::parse(isolab({"inspect", "on-default"}).out)[0]["NetworkSettings"]["Bridge"].get<std::string>();

    auto pruned = isolab({"system", "prune", "--force", "--connect", test_driver});
    auto networks = isolab({"network", "ls", "-q"});
    bool default_kept = network::link_exists(default_bridge);
    isolab({"rm", "-f", "on-used", "on-default"});
    auto pruned_again = isolab({"system", "prune", "--force", "--connect", test_driver});

    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("removed network unused\n"), std::string::npos) << pruned.out;
    EXPECT_NE(pruned.out.find("removed network stopped-only\n"), std::string::npos) << pruned.out;
    EXPECT_EQ(pruned.out.find("removed network used\n"), std::string::npos) << pruned.out;
    EXPECT_EQ(networks.out, "bridge\nused\n") << networks.err;
    EXPECT_TRUE(default_kept) << default_bridge << " went while a container used it";
    EXPECT_NE(pruned_again.out.find("removed network used\n"), std::string::npos) << pruned_again.out;
    // Tests run in parallel, and another state root may take the freed name at once, so
    // the check is that no bridge of this state root is left under it.
    bool own_bridge_left = false;
    for (const auto& link : network::list_links()) {
        if (link.name == default_bridge && link.alias == network::owner_alias(root.paths())) own_bridge_left = true;
    }
    EXPECT_FALSE(own_bridge_left) << default_bridge;
    EXPECT_EQ(isolab({"network", "ls", "-q"}).out, "bridge\n");
}

}  // namespace
}  // namespace isolab
