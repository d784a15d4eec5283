// `isolab vm boot-profile` under TCG. The file boots six guests: two bare QEMU steps of
// one run, one interrupted, a failing workload, then a bare step beside the
// libvirt-embedded step in the disk form. That domain runs in libvirt's embedded driver
// under the test's state root (no libvirtd).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/background_isolab.hpp"
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
                          "--pause", "0.5", "-o", chart.string(), "busybox", "true"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("medians of 1 run(s), initramfs form, 0.5 s pause before each boot;"), std::string::npos) << result.out;

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

// A terminal's Ctrl-C reaches isolab but not QEMU, which leads its own process group: the
// bare boot in progress is ended by isolab, and its overlay and folder are removed.
TEST_F(VmBootProfile, InterruptEndsBareQemu) {
    isolab::testing::BackgroundIsolab profile(root_.paths(),
                                              {"--log-level", "debug", "vm", "boot-profile", "--runs", "1", "--accel",
                                               "tcg", "--form", "disk", "--only", "small-pages", "busybox", "sleep", "60"},
                                              true);
    ASSERT_TRUE(profile.wait_for_output("isolab-init: phase workload-start", std::chrono::seconds(120)))
        << profile.output();
    pid_t isolab_pid = profile.pid();

    profile.send(SIGINT);

    EXPECT_EQ(profile.wait_exit(), 130) << profile.output();
    EXPECT_NE(profile.output().find("interrupted: killed qemu-system-x86_64"), std::string::npos) << profile.output();
    // No process is left whose command line names the test's state root (QEMU's -initrd).
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator("/proc", ignored)) {
        if (entry.path().filename() == std::to_string(isolab_pid)) continue;
        std::string cmdline;
        try {
            cmdline = isolab::read_file(entry.path() / "cmdline");
        } catch (const std::exception&) {
            continue;  // not a process, or one that has just exited
        }
        EXPECT_EQ(cmdline.find(root_.root().string()), std::string::npos) << entry.path() << ": " << cmdline;
    }
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(VmBootProfile, UnknownStepFailsBeforeBooting) {
    auto result = isolab({"vm", "boot-profile", "--only", "default,turbo", "busybox"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("unknown boot-profile variant 'turbo'"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("run 1/"), std::string::npos) << result.err;
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(VmBootProfile, UnwritableChartFailsBeforeBooting) {
    for (const auto& chart : {root_.root() / "no such folder" / "profile.svg", root_.root()}) {
        auto result = isolab({"vm", "boot-profile", "--only", "default", "-o", chart.string(), "busybox"});
        EXPECT_NE(result.exit_code, 0);
        EXPECT_NE(result.err.find("cannot write the chart " + chart.string()), std::string::npos) << result.err;
        EXPECT_EQ(result.err.find("run 1/"), std::string::npos) << result.err;
    }
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(VmBootProfile, NegativePauseFailsBeforeBooting) {
    auto result = isolab({"vm", "boot-profile", "--pause=-1", "busybox"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("invalid --pause -1: the pause before each boot is 0 to 600 seconds"), std::string::npos)
        << result.err;
    EXPECT_EQ(result.err.find("run 1/"), std::string::npos) << result.err;
    EXPECT_TRUE(leftovers().empty());
}

// QEMU's own start failure is not a flaky early stop: no second and third boot.
TEST_F(VmBootProfile, QemuStartFailureNotRetried) {
    auto result = isolab({"vm", "boot-profile", "--runs", "1", "--accel", "tcg", "--only", "default", "--memory",
                          "100000G", "busybox"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("boot-profile step default: QEMU failed with exit code"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("booting again"), std::string::npos) << result.err;
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

// In the disk form: the bare step boots its own qcow2 overlay, the embedded step boots
// as `vm run --form disk` does, and neither leaves its overlay behind.
TEST_F(VmBootProfile, DiskFormEmbeddedStepLeavesNoDomain) {
    auto result = isolab({"vm", "boot-profile", "--runs", "1", "--accel", "tcg", "--form", "disk", "--only",
                          "small-pages,libvirt-embedded", "busybox", "true"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("medians of 1 run(s), disk form (qcow2 overlay on virtio-blk), boots back to back;"),
              std::string::npos)
        << result.out;
    EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(
small-pages +tcg +[0-9]+\.[0-9] )"))) << result.out;
    EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(\nlibvirt-embedded +tcg +[0-9]+\.[0-9] )"))) << result.out;
    EXPECT_TRUE(std::regex_search(result.out,
                                  std::regex(R"(isolab vm run \(embedded driver\) / tuned bare QEMU: [0-9]+\.[0-9]{2} )")))
        << result.out;
    EXPECT_EQ(result.out.find("\nlibvirt "), std::string::npos) << result.out;

    fs::path driver = root_.root() / "libvirt-embedded";
    std::string config = isolab::read_file(driver / "etc" / "qemu.conf");
    EXPECT_NE(config.find("user = \"root\""), std::string::npos) << config;

    // The transient domain is gone with its QEMU process, and prune opens the driver too.
    std::vector<fs::path> pid_files;
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(driver / "run" / "qemu", ignored)) {
        // driver.pid is the driver's own lock; a domain's QEMU has NAME.pid.
        if (entry.path().extension() == ".pid" && entry.path().filename() != "driver.pid") {
            pid_files.push_back(entry.path());
        }
    }
    EXPECT_TRUE(pid_files.empty());
    // Only the image's cached base disk stays, not a per-boot overlay.
    for (const auto& entry : fs::recursive_directory_iterator(root_.paths().root, ignored)) {
        if (entry.path().extension() == ".qcow2") {
            EXPECT_EQ(entry.path().parent_path().filename(), "disks") << entry.path();
        }
    }
    auto prune = isolab({"system", "prune", "--force", "--connect", "test:///default"});
    EXPECT_EQ(prune.exit_code, 0) << prune.err;
    EXPECT_EQ(prune.err.find("embedded"), std::string::npos) << prune.err;
    EXPECT_TRUE(leftovers().empty());
}
