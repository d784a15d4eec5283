// `isolab diff`: a container's added, changed and deleted files over its image, read from
// a real overlayfs upper dir. Needs root.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/container/diff.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using container::filesystem_changes;
using container::format_changes;

class ContainerDiff : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers and making whiteouts needs root";
    }

    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    TestRoot root_;
};

TEST_F(ContainerDiff, AddedChangedAndDeletedAsDockerPrintsThem) {
    auto run = isolab({"run", "--name", "changed", "busybox", "sh", "-c",
                       "echo hello > /etc/motd; mkdir -p /srv/new; echo x > /srv/new/file; rm /bin/ls"});
    ASSERT_EQ(run.exit_code, 0) << run.err;

    auto diff = isolab({"diff", "changed"});

    ASSERT_EQ(diff.exit_code, 0) << diff.err;
    EXPECT_NE(diff.out.find("C /etc\n"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("A /etc/motd\n"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("A /srv\n"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("A /srv/new/file\n"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("C /bin\n"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("D /bin/ls\n"), std::string::npos) << diff.out;
}

TEST_F(ContainerDiff, UnchangedContainerHasNoLines) {
    auto run = isolab({"run", "--name", "quiet", "busybox", "true"});
    ASSERT_EQ(run.exit_code, 0) << run.err;

    auto diff = isolab({"diff", "quiet"});

    EXPECT_EQ(diff.exit_code, 0) << diff.err;
    EXPECT_EQ(diff.out, "");
}

TEST_F(ContainerDiff, UnknownContainerIsOneLine) {
    auto diff = isolab({"diff", "nothing-here"});

    EXPECT_EQ(diff.exit_code, 1);
    EXPECT_EQ(diff.err, "isolab: no such container: nothing-here (list them with 'isolab ps -a')\n");
}

TEST_F(ContainerDiff, WhiteoutInHigherLowerHidesName) {
    auto base = root_.root() / "diff-fixture";
    auto upper = base / "upper";
    auto top = base / "top";
    auto bottom = base / "bottom";
    for (const auto& folder : {upper, top, bottom}) fs::create_directories(folder);
    write_file_atomic(bottom / "gone", "old\n");
    ASSERT_EQ(mknod((top / "gone").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
    write_file_atomic(upper / "gone", "new\n");
    write_file_atomic(bottom / "kept", "old\n");
    write_file_atomic(upper / "kept", "new\n");

    auto changes = format_changes(filesystem_changes(upper, {top, bottom}));

    EXPECT_EQ(changes, "A /gone\nC /kept\n");
}

}  // namespace
}  // namespace isolab::testing
