// The command prefix that runs crun and podman without the cgroup2 mount on a hybrid host.
#include <gtest/gtest.h>

#include <algorithm>

#include "bench/reference_support.hpp"

namespace isolab::bench {
namespace {

kernel::CgroupHost hybrid_host(std::vector<std::string> unified_controllers) {
    kernel::CgroupHost host;
    host.version = kernel::CgroupVersion::v1;
    host.v1_hierarchies["memory"] = "/sys/fs/cgroup/memory";
    host.unified_mount = "/sys/fs/cgroup/unified";
    host.unified_controllers = std::move(unified_controllers);
    return host;
}

TEST(HybridCgroupWrapper, UnmountsAUnifiedMountWithControllers) {
    auto wrapper = hybrid_cgroup_wrapper(hybrid_host({"hugetlb"}));
    ASSERT_FALSE(wrapper.empty());
    EXPECT_EQ(wrapper.front(), "unshare");
    EXPECT_NE(std::find(wrapper.begin(), wrapper.end(), "private"), wrapper.end());
    // The mount point is an argument of the shell, never part of its script.
    EXPECT_EQ(wrapper.back(), "/sys/fs/cgroup/unified");
    EXPECT_EQ(wrapper[wrapper.size() - 2], "umount \"$0\" && exec \"$@\"");
    EXPECT_NE(hybrid_cgroup_note(wrapper).find("unshare, sh and umount"), std::string::npos);
}

TEST(HybridCgroupWrapper, NothingWhereCrunAcceptsTheHost) {
    EXPECT_TRUE(hybrid_cgroup_wrapper(hybrid_host({})).empty());  // unified mount without controllers
    kernel::CgroupHost pure_v2;
    pure_v2.version = kernel::CgroupVersion::v2;
    pure_v2.unified_mount = "/sys/fs/cgroup";
    pure_v2.unified_controllers = {"cpu", "memory", "pids"};
    EXPECT_TRUE(hybrid_cgroup_wrapper(pure_v2).empty());
    EXPECT_TRUE(hybrid_cgroup_note({}).empty());
}

TEST(PodmanUlimits, ProcessLimitIsCapped) {
    auto arguments = podman_ulimit_arguments();
    ASSERT_EQ(arguments.size(), 4U);
    EXPECT_EQ(arguments[2], "--ulimit");
    auto nproc = std::stoul(arguments[3].substr(arguments[3].find('=') + 1));
    EXPECT_LE(nproc, 4096U);
}

}  // namespace
}  // namespace isolab::bench
