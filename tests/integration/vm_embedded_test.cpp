// Foreground `vm run` on libvirt's embedded QEMU driver under the test's state root: while
// the run holds the driver, `vm ps -a`, `vm inspect` and `vm kill` of another process work
// from the VM's record and the owner process. After a `kill -9` of the run, which leaves
// QEMU running because an embedded driver has no auto-destroy, `vm ps -a` shows the VM as
// Exited (255) and `system prune` leaves no QEMU process, domain, lease, tap or folder.
// `vm kill` of a detached VM records the kill's time, and prune keeps a VM of libvirtd
// beside the embedded driver. Four boots of busybox under TCG.
// Needs root.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"
#include "support/vm_domain_test.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::contains;
using testing::run_isolab;
using testing::wait_for;

// VmDomainTest skips without root and starts libvirtd, which the network needs.
class VmEmbedded : public testing::VmDomainTest {
protected:
    void SetUp() override {
        VmDomainTest::SetUp();
        if (IsSkipped()) return;
        uri_ = "qemu:///embed?root=" + (root_.root() / "libvirt-embedded").string();
    }

    void TearDown() override {
        if (child_ > 0) {
            kill(child_, SIGKILL);
            waitpid(child_, nullptr, 0);
        }
        if (!uri_.empty()) run_isolab(root_.paths(), {"system", "prune", "--force", "--connect", uri_});
        VmDomainTest::TearDown();
    }

    // Starts a foreground `vm run` on the embedded driver as a child process and waits
    // until the workload has written its first line.
    void start_foreground(const std::string& name) {
        std::vector<std::string> words = {ISOLAB_BINARY, "vm", "run", "--accel", "tcg", "--network", "bridge",
                                          "--connect", uri_, "--name", name, "busybox", "sh", "-c",
                                          "echo embedded-marker; sleep 600"};
        child_ = fork();
        if (child_ == 0) {
            setenv("ISOLAB_ROOT", root_.paths().root.c_str(), 1);
            setenv("ISOLAB_CACHE", root_.paths().cache.c_str(), 1);
            int null = open("/dev/null", O_RDWR);
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            std::vector<char*> argv;
            for (auto& word : words) argv.push_back(word.data());
            argv.push_back(nullptr);
            execv(ISOLAB_BINARY, argv.data());
            _exit(127);
        }
        ASSERT_GT(child_, 0);
        bool logged = wait_for(
            [&] { return contains(run_isolab(root_.paths(), {"vm", "logs", name}).out, "embedded-marker"); },
            testing::kBootDeadline);
        ASSERT_TRUE(logged) << "the workload's output never reached vm logs:\n"
                            << run_isolab(root_.paths(), {"vm", "ps", "-a"}).err;
    }

    // The exit status of the foreground run, once it has ended.
    int reap_child() {
        int status = 0;
        waitpid(child_, &status, 0);
        child_ = 0;
        return status;
    }

    int qemu_pid(const std::string& name) {
        std::ifstream file(root_.root() / "libvirt-embedded/run/qemu" / (name + ".pid"));
        int pid = -1;
        file >> pid;
        return pid;
    }

    const testing::TestRoot& root_ = test_root_;
    std::string uri_;
    pid_t child_ = 0;
};

TEST_F(VmEmbedded, CommandsWorkWhileRunHoldsDriver) {
    std::string name = new_name("embed");
    ASSERT_NO_FATAL_FAILURE(start_foreground(name));

    std::string line = ps_line(name);
    EXPECT_TRUE(contains(line, "Up ")) << line;
    CliResult inspect = run_isolab(root_.paths(), {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_EQ(json::parse(inspect.out)["State"]["Status"], "running") << inspect.out;

    // The owner process holds the driver, so `vm kill` ends the VM through it.
    int qemu = qemu_pid(name);
    ASSERT_GT(qemu, 0);
    CliResult killed = run_isolab(root_.paths(), {"vm", "kill", name});
    EXPECT_EQ(killed.exit_code, 0) << killed.err;
    int status = reap_child();
    EXPECT_TRUE(WIFEXITED(status)) << "the vm run process ended by signal " << WTERMSIG(status);
    EXPECT_TRUE(wait_for([&] { return !container::process_alive(qemu, 0); }, std::chrono::seconds(30)))
        << "QEMU " << qemu << " outlived vm kill";
    line = ps_line(name);
    EXPECT_TRUE(contains(line, "Exited (137)")) << line;
}

// `vm kill` of a detached VM destroys the domain itself, so the exit time is the kill's and
// not the console log's last write.
TEST_F(VmEmbedded, DetachedKillRecordsKillTime) {
    std::string name = new_name("embed");
    CliResult started = run_isolab(root_.paths(), {"vm", "run", "-d", "--accel", "tcg", "--network", "none", "--connect",
                                                   uri_, "--name", name, "busybox", "sh", "-c",
                                                   "echo detached-marker; sleep 600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    bool logged = wait_for(
        [&] { return contains(run_isolab(root_.paths(), {"vm", "logs", name}).out, "detached-marker"); },
        testing::kBootDeadline);
    ASSERT_TRUE(logged) << "the workload's output never reached vm logs";

    // The timestamps have whole seconds, so the kill comes in a later second than the
    // console's last write.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    std::string killed_at = utc_timestamp();
    CliResult killed = run_isolab(root_.paths(), {"vm", "kill", name});
    EXPECT_EQ(killed.exit_code, 0) << killed.err;
    CliResult inspect = run_isolab(root_.paths(), {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json state = json::parse(inspect.out)["State"];
    EXPECT_EQ(state["Status"], "exited");
    EXPECT_GE(state["FinishedAt"].get<std::string>(), killed_at) << "FinishedAt is before the kill";
    EXPECT_EQ(run_isolab(root_.paths(), {"vm", "rm", name}).exit_code, 0);
}

// A process that has loaded the embedded driver can no longer reach libvirtd, so prune
// looks at libvirtd's domains and records before it opens the embedded driver.
TEST_F(VmEmbedded, PruneKeepsLibvirtdVmBesideEmbeddedDriver) {
    std::string name = new_name("sysvm");
    CliResult started = run_isolab(root_.paths(), {"vm", "run", "-d", "--accel", "tcg", "--network", "none", "--connect",
                                                   "qemu:///system", "--name", name, "busybox", "sleep", "600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    fs::create_directories(root_.root() / "libvirt-embedded");

    CliResult pruned = run_isolab(root_.paths(), {"system", "prune", "--force", "--connect", "qemu:///system"});

    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_TRUE(contains(ps_line(name), "Up")) << ps_line(name);
    EXPECT_EQ(run_isolab(root_.paths(), {"vm", "rm", "-f", name}).exit_code, 0);
}

TEST_F(VmEmbedded, KilledRunIsExitedAndPruned) {
    std::string name = new_name("embed");
    ASSERT_NO_FATAL_FAILURE(start_foreground(name));
    int qemu = qemu_pid(name);
    ASSERT_GT(qemu, 0);

    std::string killed_at = utc_timestamp();
    kill(child_, SIGKILL);
    reap_child();

    std::string line = ps_line(name);
    EXPECT_TRUE(contains(line, "Exited (255)")) << line;
    CliResult inspect = run_isolab(root_.paths(), {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json state = json::parse(inspect.out)["State"];
    EXPECT_EQ(state["Status"], "exited");
    // Both are RFC 3339 UTC to the second, so they compare as text.
    EXPECT_GE(state["FinishedAt"].get<std::string>(), killed_at) << "FinishedAt is before the run was killed";

    CliResult pruned = run_isolab(root_.paths(), {"system", "prune", "--force", "--connect", uri_});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_TRUE(wait_for([&] { return !container::process_alive(qemu, 0); }, std::chrono::seconds(30)))
        << "QEMU " << qemu << " outlived system prune";
    EXPECT_FALSE(fs::exists(root_.root() / "libvirt-embedded/run/qemu" / (name + ".xml")))
        << "the embedded driver still has the domain";
    EXPECT_FALSE(fs::exists(root_.root() / "vms" / name)) << "prune left the VM's folder";
    EXPECT_EQ(ps_line(name), "");
    testing::expect_no_network_left(root_.paths());
}

}  // namespace
}  // namespace isolab
