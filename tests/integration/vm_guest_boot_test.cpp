// Boots guests with bare QEMU (no libvirt) under TCG: the initramfs form with the PVH
// vmlinux, the bzImage with a gzip initramfs and a failing command, and the disk form.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/test_support.hpp"
#include "vmdriver/guest/cmdline.hpp"
#include "vmdriver/guest/disk.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/guest/kernel.hpp"

using namespace isolab::vm::guest;
namespace fs = std::filesystem;

namespace {

// A busybox rootfs layer built from the host's busybox-static.
void make_busybox_layer(const fs::path& layer) {
    fs::create_directories(layer / "bin");
    fs::create_directories(layer / "etc");
    fs::copy_file("/bin/busybox", layer / "bin/busybox");
    std::istringstream applets(isolab::run_checked({"/bin/busybox", "--list"}));
    std::string applet;
    while (std::getline(applets, applet)) {
        if (!applet.empty() && applet != "busybox") fs::create_symlink("busybox", layer / "bin" / applet);
    }
    isolab::write_file_atomic(layer / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    isolab::write_file_atomic(layer / "etc/group", "root:x:0:\n");
}

std::string escape_commas(const std::string& text) {
    std::string escaped;
    for (char c : text) escaped += c == ',' ? std::string(",,") : std::string(1, c);
    return escaped;
}

struct Boot {
    fs::path kernel;
    fs::path initrd;
    std::string cmdline;
    fs::path disk;  // empty: no disk
};

// Runs QEMU with the console on stdout; run_command kills it by PID at the timeout.
std::string boot(const Boot& boot) {
    std::vector<std::string> argv{"qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "256", "-nodefaults",
                                  "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
                                  "-kernel", boot.kernel.string(), "-initrd", boot.initrd.string(),
                                  "-append", boot.cmdline};
    if (!boot.disk.empty()) {
        argv.insert(argv.end(), {"-drive", "file=" + escape_commas(boot.disk.string()) + ",format=qcow2,if=virtio"});
    }
    auto result = isolab::run_command(argv, {.timeout = std::chrono::seconds(180)});
    EXPECT_EQ(result.exit_code, 0) << "QEMU failed or timed out:\n" << result.output;
    // The guest's serial tty turns each newline into CR LF.
    std::erase(result.output, '\r');
    return result.output;
}

// The protocol lines in order of appearance, without their uptime values.
std::vector<std::string> protocol_lines(const std::string& console) {
    std::vector<std::string> lines;
    std::istringstream stream(console);
    std::string line;
    static const std::regex uptime(" uptime_ms=[0-9]+");
    while (std::getline(stream, line)) {
        if (line.starts_with("isolab-init: ")) lines.push_back(std::regex_replace(line, uptime, ""));
    }
    return lines;
}

class GuestBoot : public ::testing::Test {
protected:
    void SetUp() override {
        if (!isolab::testing::running_as_root()) GTEST_SKIP() << "booting guests needs root";
        if (!isolab::program_available("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
        setenv("ISOLAB_INIT", ISOLAB_INIT_BINARY, 1);
        unsetenv("ISOLAB_KERNEL");
        kernel_ = ensure_kernel(root_.paths());
        layer_ = root_.root() / "layer";
        make_busybox_layer(layer_);
    }

    isolab::testing::TestRoot root_;
    GuestKernel kernel_;
    fs::path layer_;
};

}  // namespace

TEST_F(GuestBoot, PvhInitramfsRunsWorkload) {
    ASSERT_EQ(kernel_.boot_format, "pvh-elf") << kernel_.fallback_reason;
    isolab::Paths cache_paths{root_.root(), root_.root() / "cache"};
    auto part = ensure_image_initramfs(cache_paths, "sha256:busybox-test", {layer_});
    // The sleep needs timer interrupts: the TCG command line boots without the local APIC
    // timer (noapictimer), so the tick comes from the PIT.
    Workload workload{{"sh", "-c", "echo \"FOO=$FOO\"; echo \"uid=$(id -u)\"; pwd; sleep 1; exit 3"},
                      {"PATH=/bin", "FOO=bar baz"}, "/etc", resolve_user("", {layer_})};
    fs::path initrd = root_.root() / "run.cpio";
    write_run_initramfs(part.path, workload, initrd);

    std::string console = boot({kernel_.boot_image, initrd, kernel_cmdline({.tcg = true})});
    EXPECT_EQ(protocol_lines(console), (std::vector<std::string>{"isolab-init: phase init-start",
                                                                 "isolab-init: phase workload-start",
                                                                 "isolab-init: exit code=3"}))
        << console;
    EXPECT_NE(console.find("\nFOO=bar baz\n"), std::string::npos) << console;
    EXPECT_NE(console.find("\nuid=0\n"), std::string::npos) << console;
    EXPECT_NE(console.find("\n/etc\n"), std::string::npos) << console;
}

TEST_F(GuestBoot, BzImageGzipReportsMissingCommand) {
    isolab::Paths cache_paths{root_.root(), root_.root() / "cache"};
    auto part = ensure_image_initramfs(cache_paths, "sha256:busybox-test", {layer_}, InitramfsCompression::gzip);
    Workload workload{{"isolab-missing-command"}, {"PATH=/bin"}, "/", "0:0"};
    fs::path initrd = root_.root() / "run.cpio.gz";
    write_run_initramfs(part.path, workload, initrd, InitramfsCompression::gzip);

    std::string console = boot({kernel_.bzimage, initrd, kernel_cmdline({.profile = CmdlineProfile::default_boot})});
    auto lines = protocol_lines(console);
    ASSERT_EQ(lines.size(), 4u) << console;
    EXPECT_EQ(lines[0], "isolab-init: phase init-start");
    EXPECT_EQ(lines[1], "isolab-init: phase workload-start");
    EXPECT_EQ(lines[2], "isolab-init: error cannot execute isolab-missing-command: No such file or directory");
    EXPECT_EQ(lines[3], "isolab-init: exit code=127");
}

TEST_F(GuestBoot, DiskFormSwitchesRoot) {
    // Spaces and commas in every path: no step may go through a shell or split options.
    fs::path folder = root_.root() / "disk cache, one";
    isolab::Paths cache_paths{root_.root(), folder};
    // More small files than mkfs.ext4 gives inodes for by bytes alone (16384 in 64 MiB).
    fs::create_directories(layer_ / "many");
    for (int i = 0; i < 20000; ++i) std::ofstream(layer_ / "many" / std::to_string(i));
    auto base = ensure_disk_base(cache_paths, "sha256:busybox-disk-test", {layer_});
    EXPECT_FALSE(base.reused);
    DiskOverlay overlay(base.path, folder / "vm overlay,1.qcow2");
    ASSERT_TRUE(fs::exists(overlay.path()));

    Workload workload{{"sh", "-c", "grep ' / ' /proc/mounts; ls /many | wc -l; echo written > /on-disk; exit 4"},
                      {"PATH=/bin"}, "/", "0:0"};
    fs::path initrd = folder / "disk initrd.cpio";
    write_disk_initramfs(kernel_, workload, "/dev/vda", initrd);

    std::string console =
        boot({kernel_.boot_image, initrd, kernel_cmdline({.form = RootForm::disk, .tcg = true}), overlay.path()});
    EXPECT_EQ(protocol_lines(console), (std::vector<std::string>{"isolab-init: phase init-start",
                                                                 "isolab-init: phase workload-start",
                                                                 "isolab-init: exit code=4"}))
        << console;
    EXPECT_NE(console.find("/dev/vda / ext4"), std::string::npos) << console;
    EXPECT_NE(console.find("\n20000\n"), std::string::npos) << console;
    // The guest wrote to its overlay, never to the base.
    EXPECT_GT(fs::file_size(overlay.path()), 0u);
    EXPECT_EQ(isolab::disk_usage(base.path), base.bytes);
}
