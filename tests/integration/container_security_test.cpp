// What a container may not do and what options change that: --init reaping orphans,
// masked and read-only paths, capabilities, the seccomp filter, --read-only, --tmpfs
// resolved inside the rootfs, -u, -w, the cgroup limits and the device allow-list. Needs root.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/record.hpp"
#include "runtime/container/run.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/store.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/test_support.hpp"

namespace isolab::container {
namespace {

namespace fs = std::filesystem;

struct Captured {
    std::vector<std::string> out;
    std::vector<std::string> err;
    RunResult result;

    bool has_line(const std::string& line) const { return std::find(out.begin(), out.end(), line) != out.end(); }
};

class ContainerSecurity : public ::testing::Test {
protected:
    void SetUp() override {
        if (!isolab::testing::running_as_root()) GTEST_SKIP() << "running containers needs root";
        store_ = std::make_unique<image::Store>(root_.paths());
        store_->ensure_busybox();
    }

    Captured run_with(RunOptions options, std::vector<std::string> command) {
        Captured captured;
        std::mutex lock;
        if (options.image.empty()) options.image = "busybox";
        options.command = std::move(command);
        options.remove = true;
        options.on_output_line = [&](std::string_view line, bool is_stderr, Clock::time_point) {
            std::lock_guard guard(lock);
            (is_stderr ? captured.err : captured.out).emplace_back(line);
        };
        captured.result = run(*store_, options);
        return captured;
    }

    // Runs the container on a thread and calls `inspect` with the record once the
    // workload printed "ready".
    template <typename Inspect>
    Captured run_and_inspect(RunOptions options, std::vector<std::string> command, Inspect inspect) {
        std::atomic<bool> ready{false};
        Captured captured;
        std::mutex lock;
        options.image = "busybox";
        options.command = std::move(command);
        options.remove = true;
        options.on_output_line = [&](std::string_view line, bool is_stderr, Clock::time_point) {
            std::lock_guard guard(lock);
            if (line == "ready") ready = true;
            (is_stderr ? captured.err : captured.out).emplace_back(line);
        };
        std::thread runner([&] { captured.result = run(*store_, options); });
        for (int attempt = 0; attempt < 1000 && !ready; ++attempt) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        auto containers = list_containers(root_.paths());
        if (ready && containers.size() == 1) inspect(containers[0]);
        runner.join();
        EXPECT_TRUE(ready) << "the workload never printed ready";
        return captured;
    }

    isolab::testing::TestRoot root_;
    std::unique_ptr<image::Store> store_;
};

// Host pids whose parent is `parent` and whose state letter is Z.
int zombie_children(pid_t parent) {
    int zombies = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat_file(entry.path() / "stat");
        std::string stat;
        std::getline(stat_file, stat);
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int parent_pid = 0;
        std::istringstream rest(stat.substr(close + 2));
        rest >> state >> parent_pid;
        if (parent_pid == parent && state == 'Z') ++zombies;
    }
    return zombies;
}

TEST_F(ContainerSecurity, InitReapsOrphans) {
    // The orphaned `sleep 1` is re-parented to pid 1. `sleep 3` as pid 1 never reaps it;
    // isolab-init does.
    std::vector<std::string> command{"sh", "-c", "(sleep 1 &) ; echo ready; exec sleep 3"};
    int with_init = -1;
    int without_init = -1;
    RunOptions options;
    options.init = true;
    auto init_run = run_and_inspect(options, command, [&](const StoredContainer& container) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2000));
        with_init = zombie_children(container.state.pid);
    });
    options.init = false;
    run_and_inspect(options, command, [&](const StoredContainer& container) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2000));
        without_init = zombie_children(container.state.pid);
    });

    EXPECT_EQ(with_init, 0);
    EXPECT_EQ(without_init, 1) << "without --init the orphan must stay a zombie, or this test proves nothing";
    EXPECT_EQ(init_run.result.exit_code, 0);
}

TEST_F(ContainerSecurity, InitPassesExitCode) {
    RunOptions options;
    options.init = true;
    auto captured = run_with(options, {"sh", "-c", "cat /proc/1/comm; exit 7"});

    EXPECT_EQ(captured.result.exit_code, 7);
    EXPECT_EQ(captured.out, std::vector<std::string>{".isolab-init"});
}

TEST_F(ContainerSecurity, MaskedPathsAreEmpty) {
    auto captured = run_with({}, {"sh", "-c",
                                  "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do "
                                  "  [ -e $p ] && echo \"$p $(cat $p | wc -c)\"; done; "
                                  "echo firmware=$(ls /sys/firmware | wc -l); echo scsi=$(ls /proc/scsi 2>/dev/null | wc -l)"});

    for (const auto& line : captured.out) {
        if (line.rfind("/proc/", 0) == 0) {
            EXPECT_EQ(line.substr(line.find(' ')), " 0") << line;
        }
    }
    EXPECT_TRUE(captured.has_line("firmware=0"));
    EXPECT_TRUE(captured.has_line("scsi=0"));
}

TEST_F(ContainerSecurity, ReadOnlyPathsAndSys) {
    auto captured = run_with({}, {"sh", "-c",
                                  "echo 3 > /proc/sys/vm/drop_caches && echo sys-writable; "
                                  "echo h > /proc/sysrq-trigger && echo sysrq-writable; "
                                  "touch /sys/x && echo sysfs-writable; "
                                  "grep -E ' /proc/(sys|irq|bus) ' /proc/self/mountinfo | grep -c ' ro,'"});

    EXPECT_FALSE(captured.has_line("sys-writable"));
    EXPECT_FALSE(captured.has_line("sysrq-writable"));
    EXPECT_FALSE(captured.has_line("sysfs-writable"));
    EXPECT_TRUE(captured.has_line("3")) << ::testing::PrintToString(captured.out);
}

TEST_F(ContainerSecurity, DefaultCapabilitiesAsDocker) {
    auto captured = run_with({}, {"sh", "-c", "grep -E '^Cap(Eff|Bnd)|^NoNewPrivs|^Seccomp:' /proc/self/status"});

    EXPECT_TRUE(captured.has_line("CapEff:\t00000000a80425fb")) << ::testing::PrintToString(captured.out);
    EXPECT_TRUE(captured.has_line("CapBnd:\t00000000a80425fb"));
    EXPECT_TRUE(captured.has_line("NoNewPrivs:\t1"));
    EXPECT_TRUE(captured.has_line("Seccomp:\t2"));
}

TEST_F(ContainerSecurity, CapAddAndDrop) {
    RunOptions options;
    options.cap_drop = {"ALL"};
    options.cap_add = {"NET_ADMIN", "chown"};
    auto captured = run_with(options, {"sh", "-c", "grep ^CapEff /proc/self/status"});

    // CAP_CHOWN is bit 0, CAP_NET_ADMIN bit 12.
    EXPECT_EQ(captured.out, std::vector<std::string>{"CapEff:\t0000000000001001"});
}

TEST_F(ContainerSecurity, UnknownCapabilityRejected) {
    RunOptions options;
    options.cap_add = {"NOT_A_CAP"};
    EXPECT_THROW(run_with(options, {"true"}), Error);
    EXPECT_TRUE(list_containers(root_.paths()).empty());
}

TEST_F(ContainerSecurity, SeccompFollowsCapabilities) {
    // As in Docker's default profile, mount and unshare are allowed only with CAP_SYS_ADMIN.
    auto without = run_with({}, {"sh", "-c", "unshare -U true && echo unshared"});
    RunOptions options;
    options.cap_add = {"SYS_ADMIN"};
    auto with = run_with(options, {"sh", "-c", "mkdir /m; mount -t tmpfs none /m && echo mounted; unshare -U true && echo unshared"});
    options.seccomp = false;
    auto unconfined = run_with(options, {"sh", "-c", "mkdir /m; mount -t tmpfs none /m && echo mounted; grep ^Seccomp: /proc/self/status"});

    EXPECT_FALSE(without.has_line("unshared"));
    EXPECT_TRUE(with.has_line("mounted")) << ::testing::PrintToString(with.err);
    EXPECT_TRUE(with.has_line("unshared")) << ::testing::PrintToString(with.err);
    EXPECT_TRUE(unconfined.has_line("mounted")) << ::testing::PrintToString(unconfined.err);
    EXPECT_TRUE(unconfined.has_line("Seccomp:\t0"));
}

TEST_F(ContainerSecurity, PrivilegedHasAllAndNoFilter) {
    RunOptions options;
    options.privileged = true;
    auto captured = run_with(options, {"sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; touch /sys/kernel/x 2>&1 | grep -c Read-only"});

    ASSERT_GE(captured.out.size(), 2u);
    EXPECT_NE(captured.out[0], "CapEff:\t00000000a80425fb");
    EXPECT_TRUE(captured.has_line("Seccomp:\t0"));
}

TEST_F(ContainerSecurity, ReadOnlyRootfsWithTmpfs) {
    RunOptions options;
    options.read_only = true;
    options.tmpfs = {"/run:size=1m"};
    auto captured = run_with(options, {"sh", "-c", "touch /x && echo root-writable; touch /run/y && echo run-writable; "
                                                   "grep ' /run ' /proc/self/mountinfo | grep -c size=1024k"});

    EXPECT_FALSE(captured.has_line("root-writable"));
    EXPECT_TRUE(captured.has_line("run-writable"));
    EXPECT_TRUE(captured.has_line("1")) << ::testing::PrintToString(captured.out);
}

TEST_F(ContainerSecurity, TmpfsThroughAbsoluteSymlinkStaysInside) {
    // An image whose /conf is an absolute link to /srv/conf: followed on the host, the
    // tmpfs would land on the host's /srv/conf.
    TemporaryDirectory build(root_.root(), "r3-");
    auto rootfs = build.path() / "rootfs";
    fs::create_directories(rootfs / "bin");
    fs::create_directories(rootfs / "srv/conf");
    fs::copy_file("/bin/busybox", rootfs / "bin/busybox");
    for (const char* applet : {"sh", "grep", "echo", "ls", "cat"}) fs::create_symlink("busybox", rootfs / "bin" / applet);
    fs::create_symlink("/srv/conf", rootfs / "conf");
    auto tar = build.path() / "rootfs.tar";
    run_checked({"tar", "-C", rootfs.string(), "-cf", tar.string(), "."});
    store_->import_rootfs(tar, "r3-link:latest");
    bool host_had_srv_conf = fs::exists("/srv/conf/stack");

    RunOptions options;
    options.image = "r3-link";
    options.tmpfs = {"/conf/stack"};
    auto captured = run_with(options, {"sh", "-c", "grep -c ' /srv/conf/stack ' /proc/self/mountinfo"});

    EXPECT_EQ(captured.out, std::vector<std::string>{"1"}) << ::testing::PrintToString(captured.err);
    EXPECT_EQ(fs::exists("/srv/conf/stack"), host_had_srv_conf) << "a folder was created on the host";
}

TEST_F(ContainerSecurity, UserByNameAndNumber) {
    RunOptions options;
    options.user = "nobody";
    auto by_name = run_with(options, {"sh", "-c", "id -u; id -g; grep ^CapEff /proc/self/status"});
    options.user = "1234:4321";
    auto by_number = run_with(options, {"sh", "-c", "id -u; id -g"});
    options.user = "no-such-user";

    EXPECT_EQ(by_name.out, (std::vector<std::string>{"65534", "65534", "CapEff:\t0000000000000000"}));
    EXPECT_EQ(by_number.out, (std::vector<std::string>{"1234", "4321"}));
    EXPECT_THROW(run_with(options, {"true"}), Error);
}

TEST_F(ContainerSecurity, WorkingDirOption) {
    RunOptions options;
    options.working_dir = "/var/work";
    auto captured = run_with(options, {"pwd"});

    EXPECT_EQ(captured.out, std::vector<std::string>{"/var/work"});
    options.working_dir = "relative";
    EXPECT_THROW(run_with(options, {"pwd"}), Error);
}

TEST_F(ContainerSecurity, CgroupLimitsWritten) {
    RunOptions options;
    options.memory_limit = 64ULL << 20;
    options.memory_swap = 128LL << 20;
    options.pids_limit = 20;
    options.cpus = 0.5;
    options.cpu_shares = 512;
    auto host = kernel::detect_cgroups();
    std::map<std::string, std::string> values;
    auto read = [&](const std::string& controller, const std::string& id, const std::string& file) {
        auto directory = host.on_host(host.v1_hierarchies.at(controller)) / ("isolab-" + id);
        values[file] = read_file(directory / file);
    };
    run_and_inspect(options, {"sh", "-c", "echo ready; sleep 1"}, [&](const StoredContainer& container) {
        if (host.version != kernel::CgroupVersion::v1) return;
        read("memory", container.config.id, "memory.limit_in_bytes");
        read("memory", container.config.id, "memory.memsw.limit_in_bytes");
        read("pids", container.config.id, "pids.max");
        read("cpu", container.config.id, "cpu.cfs_quota_us");
        read("cpu", container.config.id, "cpu.shares");
    });
    if (host.version != kernel::CgroupVersion::v1) GTEST_SKIP() << "checks the v1 files; v2 writes are unit-tested";

    EXPECT_EQ(values["memory.limit_in_bytes"], "67108864\n");
    EXPECT_EQ(values["memory.memsw.limit_in_bytes"], "134217728\n");
    EXPECT_EQ(values["pids.max"], "20\n");
    EXPECT_EQ(values["cpu.cfs_quota_us"], "50000\n");
    EXPECT_EQ(values["cpu.shares"], "512\n");
}

TEST_F(ContainerSecurity, PidsLimitStopsForks) {
    RunOptions options;
    options.pids_limit = 5;
    auto captured = run_with(options, {"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait"});

    // sh prints "can't fork" for the forks over the limit.
    bool fork_failed = false;
    for (const auto& line : captured.err) fork_failed = fork_failed || line.find("fork") != std::string::npos;
    EXPECT_TRUE(fork_failed) << ::testing::PrintToString(captured.err);
}

// Returns whether root on this host can open /dev/loop0 (block 7:0). The allow-list tests
// expect a container to be denied that device, which proves nothing unless the host opens it.
bool host_opens_loop0() {
    int fd = open("/dev/loop0", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    close(fd);
    return true;
}

TEST_F(ContainerSecurity, AllowListedDeviceWorks) {
    auto captured = run_with(RunOptions{}, {"sh", "-c", "mknod /tmp/null c 1 3 && echo data > /tmp/null && echo written"});

    EXPECT_EQ(captured.result.exit_code, 0) << ::testing::PrintToString(captured.err);
    EXPECT_TRUE(captured.has_line("written")) << ::testing::PrintToString(captured.out);
}

TEST_F(ContainerSecurity, UnlistedDeviceDenied) {
    if (!host_opens_loop0()) GTEST_SKIP() << "the host cannot open /dev/loop0 itself";

    auto captured = run_with(RunOptions{}, {"sh", "-c", "mknod /tmp/loop b 7 0 && echo created && true < /tmp/loop && echo opened"});

    EXPECT_TRUE(captured.has_line("created")) << "mknod is allowed for every node";
    EXPECT_FALSE(captured.has_line("opened"));
    EXPECT_NE(captured.result.exit_code, 0);
    ASSERT_EQ(captured.err.size(), 1u) << ::testing::PrintToString(captured.err);
    EXPECT_NE(captured.err[0].find("Operation not permitted"), std::string::npos) << captured.err[0];
}

TEST_F(ContainerSecurity, DeviceOptionBindsAndAllows) {
    if (!host_opens_loop0()) GTEST_SKIP() << "the host cannot open /dev/loop0 itself";
    RunOptions options;
    options.devices = {"/dev/loop0:/dev/disk:r"};

    auto captured = run_with(options, {"sh", "-c", "true < /dev/disk && echo read; true > /dev/disk || echo no-write"});

    EXPECT_TRUE(captured.has_line("read")) << ::testing::PrintToString(captured.err);
    EXPECT_TRUE(captured.has_line("no-write")) << ::testing::PrintToString(captured.out);
    ASSERT_EQ(captured.err.size(), 1u) << ::testing::PrintToString(captured.err);
    EXPECT_NE(captured.err[0].find("Operation not permitted"), std::string::npos) << captured.err[0];
}

TEST_F(ContainerSecurity, PrivilegedOpensAnyDevice) {
    if (!host_opens_loop0()) GTEST_SKIP() << "the host cannot open /dev/loop0 itself";
    RunOptions options;
    options.privileged = true;

    auto captured = run_with(options, {"sh", "-c", "mknod /tmp/loop b 7 0 && true < /tmp/loop && echo opened"});

    EXPECT_EQ(captured.result.exit_code, 0) << ::testing::PrintToString(captured.err);
    EXPECT_TRUE(captured.has_line("opened"));
}

}  // namespace
}  // namespace isolab::container
