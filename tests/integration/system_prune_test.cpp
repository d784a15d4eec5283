// `isolab system prune` removes what a killed run leaves: stopped container records, mounts
// below the state root and isolab cgroups, and leaves a live container alone.
#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;

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

    auto refused = testing::run_isolab(root.paths(), {"system", "prune"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    EXPECT_TRUE(mounted(rootfs)) << "nothing may be removed without confirmation";

    auto pruned = testing::run_isolab(root.paths(), {"system", "prune", "--force"});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_FALSE(mounted(rootfs));
    for (const auto& directory : cgroups) EXPECT_FALSE(fs::exists(directory)) << directory;
    EXPECT_NE(pruned.out.find("removed container"), std::string::npos) << pruned.out;

    auto listing = testing::run_isolab(root.paths(), {"ps", "-a", "-q"});
    EXPECT_EQ(listing.out, "");
}

}  // namespace
}  // namespace isolab
