// A real boot through libvirtd (qemu:///system) under TCG: output, exit code and
// environment of the workload, a state root whose path holds a space and a comma, and no
// domain left behind. Needs root; starts libvirtd with scripts/start-libvirtd if needed.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/files.hpp"
#include "support/test_support.hpp"
#include "support/vm_domain_test.hpp"
#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_isolab;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class VmRun : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::running_as_root()) GTEST_SKIP() << "needs root for qemu:///system";
        std::string start = std::string(ISOLAB_SOURCE_DIR) + "/scripts/start-libvirtd";
        ASSERT_EQ(std::system(start.c_str()), 0) << "scripts/start-libvirtd failed";

        // The state root's path has a space and a comma, which QEMU's -drive syntax and
        // naive shell quoting both break on.
        paths_.root = test_root_.root().parent_path() / "state root, with comma";
        paths_.cache = test_root_.paths().cache;
        fs::create_directories(paths_.root);
        fs::permissions(paths_.root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
    }

    bool domain_exists(const std::string& name) {
        vm::libvirt::Connection connection("qemu:///system");
        for (const auto& domain : vm::libvirt::list_isolab_domains(connection)) {
            if (domain.name == name) return true;
        }
        return false;
    }

    testing::TestRoot test_root_;
    Paths paths_;
};

TEST_F(VmRun, OutputExitCodeAndEnvironment) {
    std::string name = "vmtest-" + random_hex_id().substr(0, 8);
    CliResult result = run_isolab(paths_, {"vm", "run", "--rm", "--accel", "tcg", "--name", name, "--phases", "-e",
                                           "GREETING=hello, world & more", "busybox", "sh", "-c",
                                           "echo out-line; echo \"GREETING=$GREETING\"; exit 3"});

    EXPECT_EQ(result.exit_code, 3) << result.out << result.err;
    EXPECT_TRUE(contains(result.out, "out-line\n")) << result.out;
    EXPECT_TRUE(contains(result.out, "GREETING=hello, world & more\n")) << result.out;
    EXPECT_FALSE(contains(result.out, "isolab-init:")) << "protocol lines leaked into the output:\n" << result.out;

    EXPECT_TRUE(contains(result.err, "workload-start")) << result.err;
    EXPECT_TRUE(contains(result.err, "kernel-start")) << result.err;
    EXPECT_TRUE(contains(result.err, "accelerator tcg")) << result.err;

    // The phase table: every start-up phase, in time order from the process start.
    std::vector<std::pair<std::string, double>> phases;
    std::istringstream lines(result.err);
    bool in_table = false;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("PHASE")) {
            in_table = true;
            continue;
        }
        std::istringstream fields(line);
        std::string phase;
        double at_ms = 0;
        if (!in_table || !(fields >> phase >> at_ms)) {
            in_table = false;
            continue;
        }
        phases.emplace_back(phase, at_ms);
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < phases.size(); ++i) {
        names.push_back(phases[i].first);
        if (i > 0) {
            EXPECT_LE(phases[i - 1].second, phases[i].second) << phases[i].first << " out of order:\n" << result.err;
        }
    }
    for (const char* expected : {"isolab-start", "libvirt-connect", "accelerator", "image", "initramfs", "define",
                                 "qemu-process", "create", "qemu-up", "first-serial-byte", "kernel-start",
                                 "init-start", "workload-start", "exit"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected << " missing:\n" << result.err;
    }
    EXPECT_TRUE(contains(result.err, "QEMU PSS peak")) << result.err;

    EXPECT_FALSE(domain_exists("isolab-" + name)) << "domain isolab-" << name << " outlived the run";
    // --rm removes the record that other `vm` commands saw while the VM ran.
    for (const auto& entry : fs::directory_iterator(paths_.vms())) {
        EXPECT_FALSE(entry.is_directory()) << "VM folder left behind: " << entry.path();
    }
    EXPECT_FALSE(contains(run_isolab(paths_, {"vm", "ps", "-a"}).out, name)) << "vm ps -a lists an --rm VM";
}

TEST_F(VmRun, InvalidMemoryRejectedInOneLine) {
    // 64M passed once and the guest kernel panicked before its console, silent for 300 s.
    for (const char* memory : {"1000K", "32M", "64M", "lots"}) {
        CliResult result = run_isolab(paths_, {"vm", "run", "--memory", memory, "busybox", "true"});
        EXPECT_NE(result.exit_code, 0) << memory;
        EXPECT_TRUE(contains(result.err, "invalid --memory")) << result.err;
        EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "expected one line:\n" << result.err;
    }
}

// libvirt's QEMU user cannot enter a closed folder above the guest files: the hint names
// the setting that placed them, the state root or the cache.
TEST_F(VmRun, ClosedFolderNamesItsSetting) {
    fs::path closed = test_root_.root() / "closed";
    fs::create_directories(closed / "root");
    fs::create_directories(closed / "cache");
    fs::permissions(closed, fs::perms::owner_all);
    fs::copy(paths_.cache / "kernels", closed / "cache" / "kernels", fs::copy_options::recursive);

    CliResult closed_root = run_isolab({closed / "root", paths_.cache}, {"vm", "run", "--rm", "busybox", "true"});
    EXPECT_NE(closed_root.exit_code, 0);
    EXPECT_TRUE(contains(closed_root.err, "use a state root (ISOLAB_ROOT) under a folder others may enter"))
        << closed_root.err;
    CliResult closed_cache = run_isolab({paths_.root, closed / "cache"}, {"vm", "run", "--rm", "busybox", "true"});
    EXPECT_NE(closed_cache.exit_code, 0);
    EXPECT_TRUE(contains(closed_cache.err, "use a cache (ISOLAB_CACHE) under a folder others may enter"))
        << closed_cache.err;
}

// A base disk damaged on the host is named, with the way out, and nothing stays behind.
TEST_F(VmRun, DamagedBaseDiskNamedInError) {
    fs::path cache = test_root_.root() / "cache";
    fs::create_directories(cache);
    fs::copy(paths_.cache / "kernels", cache / "kernels", fs::copy_options::recursive);
    Paths paths{paths_.root, cache};
    const std::vector<std::string> run = {"vm", "run", "--rm", "--accel", "tcg", "--network", "none",
                                          "--form", "disk", "busybox", "true"};
    CliResult first = run_isolab(paths, run);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    std::vector<fs::path> bases;
    for (const auto& entry : fs::directory_iterator(cache / "disks")) {
        if (entry.path().extension() == ".qcow2") bases.push_back(entry.path());
    }
    ASSERT_EQ(bases.size(), 1u);
    fs::resize_file(bases.front(), 0);

    CliResult damaged = run_isolab(paths, run);
    EXPECT_NE(damaged.exit_code, 0);
    EXPECT_TRUE(contains(damaged.err, "cannot make a disk overlay on the image's base disk " + bases.front().string()))
        << damaged.err;
    EXPECT_TRUE(contains(damaged.err, "remove " + bases.front().string() + " and start again")) << damaged.err;
    EXPECT_FALSE(contains(run_isolab(paths, {"vm", "ps", "-a"}).out, "isolab-")) << "a failed --rm run left a record";
}

// The guest kernel keeps the initramfs in RAM and unpacks it into a tmpfs of at most half
// the rest: a certain failure is rejected before the boot, a likely one is named after it.
TEST_F(VmRun, OversizedInitramfsNamedWithMemoryHint) {
    fs::path context = test_root_.root() / "big-context";
    fs::create_directories(context);
    isolab::write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN dd if=/dev/zero of=/fill bs=1M count=36\n");
    ASSERT_EQ(run_isolab(paths_, {"build", "-q", "-t", "fill36", context.string()}).exit_code, 0);
    isolab::write_file_atomic(context / "Dockerfile", "FROM fill36\nRUN dd if=/dev/zero of=/more bs=1M count=12\n");
    ASSERT_EQ(run_isolab(paths_, {"build", "-q", "-t", "fill48", context.string()}).exit_code, 0);
    const std::vector<std::string> run = {"vm", "run", "--rm", "--accel", "tcg", "--network", "none", "--memory", "128M"};

    // About 50 MiB: 3 x 50 > 128, so no guest could unpack it.
    auto rejected_arguments = run;
    rejected_arguments.insert(rejected_arguments.end(), {"fill48", "true"});
    CliResult rejected = run_isolab(paths_, rejected_arguments);
    EXPECT_NE(rejected.exit_code, 0);
    EXPECT_TRUE(contains(rejected.err, "does not fit in --memory 128M")) << rejected.err;
    EXPECT_TRUE(contains(rejected.err, "give --memory 256M or more")) << rejected.err;
    EXPECT_TRUE(contains(rejected.err, "or use --form disk")) << rejected.err;
    EXPECT_EQ(rejected.err.find('\n'), rejected.err.size() - 1) << "expected one line:\n" << rejected.err;

    // About 38 MiB passes the bound, but the kernel's own share leaves too little memory:
    // the unpacking fails or the guest runs out of memory after it.
    auto booted_arguments = run;
    booted_arguments.insert(booted_arguments.end(), {"fill36", "true"});
    CliResult booted = run_isolab(paths_, booted_arguments);
    EXPECT_NE(booted.exit_code, 0);
    EXPECT_TRUE(contains(booted.err, "could not unpack the initramfs (Initramfs unpacking failed") ||
                contains(booted.err, "ran out of memory (Kernel panic"))
        << booted.err;
    EXPECT_TRUE(contains(booted.err, "give the VM more --memory, or use --form disk")) << booted.err;
    EXPECT_TRUE(contains(booted.err, "(for this initramfs, --memory 192M or more)")) << booted.err;
    EXPECT_EQ(booted.err.find('\n'), booted.err.size() - 1) << "expected one line:\n" << booted.err;
    EXPECT_FALSE(contains(run_isolab(paths_, {"vm", "ps", "-a"}).out, "isolab-")) << "a failed --rm run left a record";

    // A detached boot has no one watching it, so inspect and logs name the failure afterwards.
    std::string name = "vmtest-" + random_hex_id().substr(0, 8);
    CliResult detached = run_isolab(paths_, {"vm", "run", "-d", "--accel", "tcg", "--network", "none", "--memory",
                                             "128M", "--name", name, "fill36", "true"});
    ASSERT_EQ(detached.exit_code, 0) << detached.err;
    bool exited = testing::wait_for(
        [&] { return contains(run_isolab(paths_, {"vm", "ps", "-a"}).out, "Exited (255)"); }, std::chrono::seconds(120));
    EXPECT_TRUE(exited) << run_isolab(paths_, {"vm", "ps", "-a"}).out;
    CliResult inspect = run_isolab(paths_, {"vm", "inspect", name});
    EXPECT_TRUE(contains(inspect.out, "\"Error\": \"the guest")) << inspect.out;
    CliResult logs = run_isolab(paths_, {"vm", "logs", name});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_TRUE(contains(logs.err, "stopped before isolab-init reported an exit code: the guest")) << logs.err;
    EXPECT_EQ(run_isolab(paths_, {"vm", "rm", name}).exit_code, 0);
}

TEST_F(VmRun, InvalidCpusRejectedBeforeLibvirt) {
    for (const char* cpus : {"0", "256", "999"}) {
        CliResult result = run_isolab(paths_, {"vm", "run", "--cpus", cpus, "busybox", "true"});
        EXPECT_NE(result.exit_code, 0) << cpus;
        EXPECT_TRUE(contains(result.err, std::string("invalid --cpus ") + cpus)) << result.err;
        EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "expected one line:\n" << result.err;
    }
}

TEST_F(VmRun, InvalidAcceleratorRejected) {
    CliResult result = run_isolab(paths_, {"vm", "run", "--accel", "xen", "busybox", "true"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_TRUE(contains(result.err, "invalid accelerator 'xen'")) << result.err;
}

TEST_F(VmRun, PsListsNoLeftovers) {
    CliResult result = run_isolab(paths_, {"vm", "ps"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("NAME")) << result.out;
}

}  // namespace
}  // namespace isolab
