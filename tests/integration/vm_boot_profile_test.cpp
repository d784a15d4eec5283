// `isolab vm boot-profile` with bare QEMU under TCG. The file boots three guests (two
// steps of one run, then a failing workload) and no libvirt domain.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/root_cli_test.hpp"

namespace fs = std::filesystem;

namespace {

class VmBootProfile : public isolab::testing::BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        if (!isolab::program_available("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
    }

    // Folders the profile leaves in the state root's tmp folder.
    std::vector<fs::path> leftovers() const {
        std::vector<fs::path> found;
        std::error_code ignored;
        for (const auto& entry : fs::directory_iterator(root_.paths().tmp(), ignored)) {
            if (entry.path().filename().string().starts_with("isolab-boot-profile-")) found.push_back(entry.path());
        }
        return found;
    }
};

}  // namespace

TEST_F(VmBootProfile, TwoQemuStepsPrintTableAndChart) {
    fs::path chart = root_.root() / "profile.svg";
    auto result = isolab({"vm", "boot-profile", "--runs", "1", "--accel", "tcg", "--only", "default,trimmed-cmdline",
                          "-o", chart.string(), "busybox", "true"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;

    EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(\ndefault +tcg +[0-9]+\.[0-9] +- )"))) << result.out;
    EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(\ntrimmed-cmdline +tcg +[0-9]+\.[0-9] +-?[0-9]+\.[0-9] )")))
        << result.out;
    EXPECT_EQ(result.out.find("\nlibvirt "), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("isolab vm run /"), std::string::npos) << result.out;
    EXPECT_NE(result.err.find("run 1/1 default"), std::string::npos) << result.err;

    ASSERT_TRUE(fs::exists(chart));
    std::string svg = isolab::read_file(chart);
    EXPECT_NE(svg.find("default (tcg)"), std::string::npos);
    EXPECT_NE(svg.find("trimmed-cmdline (tcg)"), std::string::npos);
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(VmBootProfile, UnknownStepFailsBeforeBooting) {
    auto result = isolab({"vm", "boot-profile", "--only", "default,turbo", "busybox"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("unknown boot-profile variant 'turbo'"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("run 1/"), std::string::npos) << result.err;
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(VmBootProfile, FailingWorkloadIsReported) {
    auto result = isolab({"vm", "boot-profile", "--runs", "1", "--accel", "tcg", "--only", "trimmed-cmdline", "busybox",
                          "false"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("boot-profile step trimmed-cmdline: the workload exited with code 1"), std::string::npos)
        << result.err;
    EXPECT_TRUE(leftovers().empty());
}
