// `isolab doctor` reports every check on this host, one line each.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.hpp"

namespace isolab {
namespace {

TEST(Doctor, ReportsEveryCheck) {
    if (!testing::running_as_root()) GTEST_SKIP() << "needs root";
    testing::TestRoot root;
    auto result = testing::run_isolab(root.paths(), {"doctor"});

    // Only KVM may fail on a working host: VMs then run under TCG.
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    for (const char* check : {"kernel", "cgroups", "overlayfs", "namespaces", "busybox", "qemu", "libvirtd", "kvm",
                              "guest kernel"}) {
        EXPECT_NE(result.out.find(check), std::string::npos) << check << " missing in:\n" << result.out;
    }
    EXPECT_NE(result.out.find("ok   overlayfs"), std::string::npos) << result.out;
    // KVM that does not work is a warning: VMs fall back to TCG.
    EXPECT_EQ(result.out.find("FAIL kvm"), std::string::npos) << result.out;
    // scripts/setup gives /dev/kvm the group kvm, so libvirt's QEMU user may open it.
    if (std::filesystem::exists("/dev/kvm")) {
        EXPECT_NE(result.out.find("ok   kvm access"), std::string::npos) << "run scripts/setup:\n" << result.out;
    }
}

TEST(Doctor, UnreachableLibvirtFailsWithHint) {
    testing::TestRoot root;
    auto result = testing::run_isolab(root.paths(), {"doctor", "--connect", "qemu+unix:///system?socket=/nonexistent"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.out.find("FAIL libvirtd"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("libvirtd"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace isolab
