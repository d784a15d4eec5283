// Real containers from the store's busybox image: output, exit codes, namespaces, the
// memory limit, and that nothing (mount, cgroup, folder) is left behind. Needs root.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/run.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
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
};

class ContainerRun : public ::testing::Test {
protected:
    void SetUp() override {
        if (!isolab::testing::running_as_root()) GTEST_SKIP() << "running containers needs root";
        store_ = std::make_unique<image::Store>(root_.paths());
        store_->ensure_busybox();
    }

    Captured run_captured(RunOptions options) {
        Captured captured;
        std::mutex lock;
        options.image = options.image.empty() ? "busybox" : options.image;
        options.on_output_line = [&](std::string_view line, bool is_stderr, Clock::time_point) {
            std::lock_guard guard(lock);
            (is_stderr ? captured.err : captured.out).emplace_back(line);
        };
        captured.result = run(*store_, options);
        return captured;
    }

    Captured run_command(std::vector<std::string> command, bool remove = true) {
        RunOptions options;
        options.command = std::move(command);
        options.remove = remove;
        return run_captured(std::move(options));
    }

    // Lines of /proc/self/mountinfo that mention the state root.
    std::vector<std::string> mounts_under_root() const {
        std::vector<std::string> found;
        std::ifstream mountinfo("/proc/self/mountinfo");
        std::string line;
        while (std::getline(mountinfo, line)) {
            if (line.find(root_.root().string()) != std::string::npos) found.push_back(line);
        }
        return found;
    }

    static bool cgroup_exists(const std::string& id) {
        auto host = kernel::detect_cgroups();
        for (const auto& directory : kernel::cgroup_directories(host, "isolab-" + id)) {
            if (fs::exists(directory)) return true;
        }
        return false;
    }

    isolab::testing::TestRoot root_;
    std::unique_ptr<image::Store> store_;
};

std::string host_kernel_release() {
    utsname name{};
    uname(&name);
    return name.release;
}

TEST_F(ContainerRun, OutputAndExitCode) {
    auto captured = run_command({"sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"});

    EXPECT_EQ(captured.result.exit_code, 3);
    EXPECT_EQ(captured.out, std::vector<std::string>{"to-stdout"});
    EXPECT_EQ(captured.err, std::vector<std::string>{"to-stderr"});
    EXPECT_EQ(captured.result.id.size(), 64u);
    EXPECT_FALSE(captured.result.name.empty());
}

TEST_F(ContainerRun, HostnameIsIdPrefix) {
    auto captured = run_command({"hostname"});

    ASSERT_EQ(captured.out.size(), 1u);
    EXPECT_EQ(captured.out[0], captured.result.id.substr(0, 12));
}

TEST_F(ContainerRun, HostnameOption) {
    RunOptions options;
    options.command = {"hostname"};
    options.hostname = "lab-host.example";
    options.remove = true;
    auto captured = run_captured(options);

    EXPECT_EQ(captured.out, std::vector<std::string>{"lab-host.example"});
}

TEST_F(ContainerRun, SeesOnlyItsOwnProcesses) {
    auto captured = run_command({"ps", "-o", "pid,args"});

    // Header plus exactly one process: the workload itself as pid 1.
    ASSERT_EQ(captured.out.size(), 2u) << ::testing::PrintToString(captured.out);
    auto line = captured.out[1];
    line.erase(0, line.find_first_not_of(' '));
    EXPECT_EQ(line.rfind("1 ", 0), 0u) << line;
    EXPECT_NE(line.find("ps -o pid,args"), std::string::npos) << line;
}

TEST_F(ContainerRun, KernelIsTheHosts) {
    auto captured = run_command({"uname", "-r"});

    EXPECT_EQ(captured.out, std::vector<std::string>{host_kernel_release()});
}

TEST_F(ContainerRun, OwnNetworkNamespaceWithLoopbackUp) {
    auto captured = run_command({"sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo ping-ok"});

    // Only lo exists in a fresh network namespace; "unknown" is lo's operstate when up.
    ASSERT_GE(captured.out.size(), 2u);
    EXPECT_EQ(captured.out[0], "lo");
    EXPECT_EQ(captured.out[1], "unknown");
    EXPECT_EQ(captured.out.back(), "ping-ok");
}

TEST_F(ContainerRun, EnvironmentImageAndOptions) {
    RunOptions options;
    options.command = {"sh", "-c", "echo \"$PATH\"; echo \"$R1\"; echo \"$HOSTNAME\""};
    options.env = {"R1=a=b=c"};
    options.hostname = "envhost";
    options.remove = true;
    auto captured = run_captured(options);

    ASSERT_EQ(captured.out.size(), 3u);
    EXPECT_NE(captured.out[0].find("/bin"), std::string::npos);
    EXPECT_EQ(captured.out[1], "a=b=c");
    EXPECT_EQ(captured.out[2], "envhost");
}

TEST_F(ContainerRun, MemoryLimitKillsHog) {
    RunOptions options;
    // dd allocates its 64 MiB block buffer and fills it, far over the 16 MiB limit.
    options.command = {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"};
    options.memory_limit = 16ULL << 20;
    options.remove = true;
    auto captured = run_captured(options);

    EXPECT_EQ(captured.result.exit_code, 137);
    EXPECT_GT(captured.result.memory_peak_bytes, 8ULL << 20);
    EXPECT_LE(captured.result.memory_peak_bytes, 16ULL << 20);
    EXPECT_FALSE(cgroup_exists(captured.result.id));
}

TEST_F(ContainerRun, MemoryPeakAndUpperDirMeasured) {
    auto captured = run_command({"sh", "-c", "dd if=/dev/zero of=/written bs=1M count=3 2>/dev/null"});

    EXPECT_EQ(captured.result.exit_code, 0);
    EXPECT_GT(captured.result.memory_peak_bytes, 0u);
    EXPECT_GE(captured.result.upper_dir_bytes, 3ULL << 20);
}

TEST_F(ContainerRun, PhasesInOrder) {
    auto captured = run_command({"true"});

    const auto& phases = captured.result.phases;
    std::vector<std::string> names;
    for (const auto& mark : phases.marks()) names.push_back(mark.name);
    std::vector<std::string> expected{"create", "namespaces", "cgroup", "mounts", "pivot_root", "exec", "exit"};
    EXPECT_EQ(names, expected);
    for (size_t i = 1; i < phases.marks().size(); ++i) {
        EXPECT_LE(phases.marks()[i - 1].at_ms, phases.marks()[i].at_ms) << names[i];
    }
    EXPECT_EQ(captured.result.cgroup_version.size(), 2u);
}

TEST_F(ContainerRun, NothingLeftAfterRemove) {
    auto captured = run_command({"sh", "-c", "echo data > /file; mkdir -p /tmp/x"});

    EXPECT_EQ(captured.result.exit_code, 0);
    EXPECT_TRUE(mounts_under_root().empty()) << ::testing::PrintToString(mounts_under_root());
    EXPECT_FALSE(cgroup_exists(captured.result.id));
    EXPECT_FALSE(fs::exists(root_.paths().containers() / captured.result.id));
}

TEST_F(ContainerRun, RecordKeptWithoutRemove) {
    RunOptions options;
    options.command = {"sh", "-c", "echo kept > /kept; exit 4"};
    options.name = "keeper";
    auto captured = run_captured(options);

    auto stored = find_container(root_.paths(), "keeper");
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->config.id, captured.result.id);
    EXPECT_EQ(stored->state.status, "exited");
    EXPECT_EQ(stored->state.exit_code, 4);
    EXPECT_FALSE(stored->config.image_id.empty());
    EXPECT_EQ(read_file(stored->paths.upperdir() / "kept"), "kept\n");
    EXPECT_TRUE(mounts_under_root().empty());
    EXPECT_FALSE(cgroup_exists(captured.result.id));

    // The name stays taken until the container is removed.
    EXPECT_THROW(run_captured(options), Error);
}

TEST_F(ContainerRun, PsAndRemove) {
    RunOptions options;
    options.command = {"sh", "-c", "exit 4"};
    options.name = "listed";
    auto captured = run_captured(options);

    EXPECT_TRUE(containers_for_ps(root_.paths(), false).empty());
    auto all = containers_for_ps(root_.paths(), true);
    ASSERT_EQ(all.size(), 1u);
    auto table = format_ps(all, false);
    EXPECT_NE(table.find("Exited (4)"), std::string::npos) << table;
    EXPECT_NE(table.find("listed"), std::string::npos) << table;
    EXPECT_EQ(format_ps(all, true), captured.result.id.substr(0, 12) + "\n");

    remove_container(root_.paths(), "listed", false);
    EXPECT_TRUE(list_containers(root_.paths()).empty());
    EXPECT_THROW(remove_container(root_.paths(), "listed", false), Error);
}

TEST_F(ContainerRun, CommandNotFoundIs127) {
    try {
        run_command({"no-such-command"}, false);
        FAIL() << "a missing command started";
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 127);
        EXPECT_EQ(std::string(error.what()), "exec: \"no-such-command\": executable file not found in $PATH");
    }
    auto containers = list_containers(root_.paths());
    ASSERT_EQ(containers.size(), 1u);
    EXPECT_EQ(containers[0].state.exit_code, 127);
    EXPECT_TRUE(mounts_under_root().empty());
    EXPECT_FALSE(cgroup_exists(containers[0].config.id));
}

TEST_F(ContainerRun, NotExecutableIs126) {
    try {
        run_command({"/etc/passwd"});
        FAIL() << "a non-executable file started";
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 126);
        EXPECT_NE(std::string(error.what()).find("permission denied"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(list_containers(root_.paths()).empty());
}

TEST_F(ContainerRun, KilledBySignalIs128PlusN) {
    std::atomic<bool> ready{false};
    RunOptions options;
    options.image = "busybox";
    options.command = {"sh", "-c", "echo ready; exec sleep 30"};
    options.remove = true;
    options.on_output_line = [&](std::string_view line, bool, Clock::time_point) {
        if (line == "ready") ready = true;
    };
    RunResult result;
    std::thread runner([&] { result = run(*store_, options); });

    for (int attempt = 0; attempt < 1000 && !ready; ++attempt) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // The record holds the host pid of the container's pid 1 while it runs.
    pid_t pid = 0;
    for (const auto& container : list_containers(root_.paths())) {
        if (container.state.status == "running") pid = container.state.pid;
    }
    // From the parent namespace SIGKILL reaches the namespace's init even without a handler.
    if (pid > 0) kill(pid, SIGKILL);
    runner.join();

    ASSERT_TRUE(ready);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(result.exit_code, 128 + SIGKILL);
}

// isolab cgroups that are not in `before` and hold no process after a grace period.
// Containers of tests running at the same time come and go, and hold processes while
// they run, so only an empty cgroup that stays is a leak.
std::vector<fs::path> new_idle_cgroups(const std::set<fs::path>& before) {
    std::vector<fs::path> leftovers;
    for (int attempt = 0; attempt < 50; ++attempt) {
        leftovers.clear();
        for (const auto& path : kernel::find_isolab_cgroups(kernel::detect_cgroups())) {
            if (before.contains(path)) continue;
            std::error_code error;
            bool has_processes = fs::exists(path / "cgroup.procs", error) && !read_file(path / "cgroup.procs").empty();
            if (!has_processes) leftovers.push_back(path);
        }
        if (leftovers.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return leftovers;
}

TEST_F(ContainerRun, SetupFailureLeavesNothing) {
    ImageRootfs broken;
    broken.reference = "broken";
    broken.id = "sha256:0";
    broken.lowerdirs = {root_.root() / "no-such-layer"};
    RunOptions options;
    options.command = {"true"};

    std::set<fs::path> before;
    for (const auto& path : kernel::find_isolab_cgroups(kernel::detect_cgroups())) before.insert(path);
    try {
        run_image_rootfs(root_.paths(), broken, options);
        FAIL() << "a rootfs without layers was mounted";
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 125);
        EXPECT_NE(std::string(error.what()).find("mount overlay"), std::string::npos) << error.what();
    }

    EXPECT_TRUE(mounts_under_root().empty());
    EXPECT_TRUE(list_containers(root_.paths()).empty());
    for (const auto& path : new_idle_cgroups(before)) ADD_FAILURE() << "cgroup left behind: " << path;
}

TEST_F(ContainerRun, UnknownImageFails) {
    RunOptions options;
    options.image = "no-such-image";
    options.command = {"true"};
    EXPECT_THROW(run(*store_, options), Error);
    EXPECT_TRUE(list_containers(root_.paths()).empty());
}

}  // namespace
}  // namespace isolab::container
