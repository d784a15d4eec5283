// Detached VMs through libvirtd (qemu:///system) under TCG: `vm run -d`, ps, logs,
// inspect, stats, stop with its timeout, kill, rm, --rm, name collisions, and the status
// a reader shows after a domain vanished behind isolab's back. Needs root; starts
// libvirtd with scripts/start-libvirtd if needed. Each test boots at most two VMs at a
// time and destroys its domains on every path.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "support/test_support.hpp"
#include "support/vm_domain_test.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::contains;
using testing::destroy_domain;
using testing::domain_exists;
using testing::kBootDeadline;
using testing::run_isolab;
using testing::wait_for;

bool one_line(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

// `isolab vm console NAME` on the slave side of a pseudo-terminal, as a user at a
// terminal runs it. The test types on the master side and reads what the command prints.
class ConsoleOnPty {
public:
    ConsoleOnPty(const Paths& paths, const std::string& name) {
        child_ = forkpty(&master_, nullptr, nullptr, nullptr);
        if (child_ == 0) {
            setenv("ISOLAB_ROOT", paths.root.c_str(), 1);
            setenv("ISOLAB_CACHE", paths.cache.c_str(), 1);
            execl(ISOLAB_BINARY, ISOLAB_BINARY, "vm", "console", name.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        if (master_ >= 0) fcntl(master_, F_SETFL, O_NONBLOCK);
    }
    ~ConsoleOnPty() {
        if (child_ > 0 && !exited_) {
            kill(child_, SIGKILL);
            waitpid(child_, nullptr, 0);
        }
        if (master_ >= 0) close(master_);
    }
    ConsoleOnPty(const ConsoleOnPty&) = delete;
    ConsoleOnPty& operator=(const ConsoleOnPty&) = delete;

    bool started() const { return child_ > 0 && master_ >= 0; }
    const std::string& screen() const { return screen_; }

    void type(const std::string& keys) { ASSERT_EQ(write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }

    // Reads the command's output until `text` appears after the output seen so far, or
    // `deadline` passes.
    bool wait_for_text(const std::string& text, std::chrono::seconds deadline) {
        auto end = std::chrono::steady_clock::now() + deadline;
        while (!contains(screen_, text) && std::chrono::steady_clock::now() < end) read_available(100);
        return contains(screen_, text);
    }

    // Waits up to `deadline` for the command to exit; returns its exit status, -1 when it
    // still runs.
    int wait_exit(std::chrono::seconds deadline) {
        auto end = std::chrono::steady_clock::now() + deadline;
        while (std::chrono::steady_clock::now() < end) {
            read_available(50);
            int status = 0;
            if (waitpid(child_, &status, WNOHANG) == child_) {
                exited_ = true;
                read_available(0);
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
        }
        return -1;
    }

private:
    void read_available(int timeout_ms) {
        pollfd ready{master_, POLLIN, 0};
        if (poll(&ready, 1, timeout_ms) <= 0) return;
        char buffer[4096];
        ssize_t count;
        while ((count = read(master_, buffer, sizeof buffer)) > 0) screen_.append(buffer, static_cast<size_t>(count));
    }

    int master_ = -1;
    pid_t child_ = -1;
    bool exited_ = false;
    std::string screen_;
};

class VmLifecycle : public testing::VmDomainTest {
protected:
    CliResult run_detached(const Paths& paths, const std::string& name, const std::vector<std::string>& extra,
                           const std::vector<std::string>& command) {
        std::vector<std::string> arguments = {"vm", "run", "-d", "--accel", "tcg", "--name", name};
        arguments.insert(arguments.end(), extra.begin(), extra.end());
        arguments.push_back("busybox");
        arguments.insert(arguments.end(), command.begin(), command.end());
        return run_isolab(paths, arguments);
    }
};

TEST_F(VmLifecycle, DetachedPsLogsInspectStatsStopRm) {
    const Paths& paths = test_root_.paths();
    std::string name = new_name("life");
    CliResult started =
        run_detached(paths, name, {"-e", "TOKEN=not-for-others"}, {"sh", "-c", "echo started-$TOKEN; sleep 600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    // The initramfs contains the environment: QEMU's group may enter the VM's folder, others not.
    fs::path initramfs = paths.vms() / name / "initramfs.cpio";
    ASSERT_TRUE(fs::exists(initramfs));
    EXPECT_EQ(fs::status(initramfs.parent_path()).permissions() & fs::perms::others_all, fs::perms::none);
    EXPECT_FALSE(testing::readable_by(initramfs, 65534)) << "any local user can read the VM's environment";
    EXPECT_EQ(started.out, name + "\n") << "vm run -d prints the VM's name";
    EXPECT_TRUE(domain_exists(name)) << "the domain outlives `vm run -d`";

    std::string running = ps_line(name);
    EXPECT_TRUE(contains(running, "Up ")) << running;
    EXPECT_TRUE(contains(running, "busybox")) << running;
    EXPECT_TRUE(contains(running, "initramfs")) << running;
    EXPECT_TRUE(contains(running, "tcg")) << running;
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "ps"}).out, name)) << "vm ps without -a lists running VMs";

    CliResult logs;
    bool marker = wait_for(
        [&] {
            logs = run_isolab(paths, {"vm", "logs", name});
            return contains(logs.out, "started-not-for-others\n");
        },
        kBootDeadline);
    EXPECT_TRUE(marker) << "the workload's output never reached vm logs:\n" << logs.out << logs.err;
    EXPECT_FALSE(contains(logs.out, "isolab-init:")) << "protocol lines in vm logs:\n" << logs.out;
    CliResult console = run_isolab(paths, {"vm", "logs", "--console", name});
    EXPECT_TRUE(contains(console.out, "isolab-init: phase workload-start")) << console.out;

    CliResult inspect = run_isolab(paths, {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json document = json::parse(inspect.out);
    EXPECT_EQ(document["Name"], name);
    EXPECT_EQ(document["State"]["Status"], "running");
    EXPECT_EQ(document["State"]["DomainState"], "running");
    EXPECT_EQ(document["Accelerator"]["Used"], "tcg");
    EXPECT_TRUE(contains(document["DomainXML"].get<std::string>(), "<log file=")) << "console log not in the XML";
    // Under TCG the guest's RAM is a shared memfd in small pages, and libvirt started QEMU with it.
    EXPECT_TRUE(contains(document["DomainXML"].get<std::string>(), "<source type='memfd'/>")) << inspect.out;
    EXPECT_TRUE(fs::exists(document["Paths"]["ConsoleLog"].get<std::string>())) << inspect.out;

    CliResult stats = run_isolab(paths, {"vm", "stats", "--format", "json", name});
    ASSERT_EQ(stats.exit_code, 0) << stats.err;
    json figures = json::parse(stats.out);
    EXPECT_GT(figures["Pid"].get<int>(), 0) << stats.out;
    EXPECT_GT(figures["QemuPss"].get<std::uint64_t>(), 0U) << "QEMU PSS not read: " << stats.out;
    EXPECT_EQ(figures["GuestMemory"].get<std::uint64_t>(), 256ULL << 20) << stats.out;
    EXPECT_GT(figures["CpuTimeNs"].get<std::uint64_t>(), 0U) << stats.out;

    // The same name again, in this state root: the running VM's record is named.
    CliResult again = run_detached(paths, name, {}, {"true"});
    EXPECT_NE(again.exit_code, 0);
    EXPECT_TRUE(contains(again.err, "in use by a VM of this state root")) << again.err;
    EXPECT_TRUE(contains(again.err, "isolab vm rm -f " + name)) << again.err;
    EXPECT_TRUE(one_line(again.err)) << again.err;

    // Another state root names the root that owns the domain, and its prune leaves it.
    testing::TestRoot other;
    CliResult foreign = run_detached(other.paths(), name, {}, {"true"});
    EXPECT_NE(foreign.exit_code, 0);
    EXPECT_TRUE(contains(foreign.err, "in use by a VM of the state root " + paths.root.string())) << foreign.err;
    EXPECT_TRUE(contains(foreign.err, "isolab vm rm -f " + name)) << foreign.err;
    EXPECT_TRUE(one_line(foreign.err)) << foreign.err;
    CliResult prune = run_isolab(other.paths(), {"system", "prune", "--force", "--connect", "qemu:///system"});
    EXPECT_EQ(prune.exit_code, 0) << prune.err;
    EXPECT_FALSE(contains(prune.out, name)) << prune.out;
    EXPECT_TRUE(domain_exists(name)) << "a prune of another state root destroyed the VM";
    EXPECT_FALSE(fs::exists(other.paths().vms() / name)) << "a rejected run left its folder";

    // isolab-init sends SIGTERM to the workload on the power button and powers off.
    CliResult stop = run_isolab(paths, {"vm", "stop", "-t", "60", name});
    EXPECT_EQ(stop.exit_code, 0) << stop.err;
    EXPECT_FALSE(contains(stop.err, "did not power off")) << stop.err;
    EXPECT_FALSE(domain_exists(name)) << "stop left the domain running";
    EXPECT_TRUE(contains(ps_line(name), "Exited (143)")) << ps_line(name);
    EXPECT_FALSE(contains(run_isolab(paths, {"vm", "ps"}).out, name)) << "vm ps lists an exited VM";
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "logs", name}).out, "started-not-for-others")) << "log lost after stop";

    CliResult rm = run_isolab(paths, {"vm", "rm", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
    EXPECT_FALSE(fs::exists(paths.vms() / name)) << "vm rm left the VM's folder";
    EXPECT_TRUE(ps_line(name).empty()) << "vm ps -a still lists a removed VM";
}

TEST_F(VmLifecycle, StopDestroysAfterTimeout) {
    const Paths& paths = test_root_.paths();
    std::string name = new_name("stubborn");
    CliResult started = run_detached(paths, name, {}, {"sh", "-c", "trap '' TERM; echo started-marker; sleep 600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    bool marker = wait_for([&] { return contains(run_isolab(paths, {"vm", "logs", name}).out, "started-marker"); },
                           kBootDeadline);
    ASSERT_TRUE(marker) << "the workload never started";

    // `logs -f` follows until the domain is gone, so stop ends it.
    auto follower = std::async(std::launch::async, [&] { return run_isolab(paths, {"vm", "logs", "-f", name}); });
    auto before = std::chrono::steady_clock::now();
    CliResult stop = run_isolab(paths, {"vm", "stop", "-t", "3", name});
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    ASSERT_EQ(follower.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "logs -f outlived the VM";
    CliResult followed = follower.get();
    EXPECT_EQ(followed.exit_code, 0) << followed.err;
    EXPECT_TRUE(contains(followed.out, "started-marker\n")) << followed.out;
    EXPECT_EQ(stop.exit_code, 0) << stop.err;
    EXPECT_TRUE(contains(stop.err, "did not power off within 3 s; destroyed it")) << stop.err;
    EXPECT_GE(seconds, 3.0) << "stop destroyed the VM before its timeout";
    EXPECT_LT(seconds, 30.0) << "stop took far longer than its timeout";
    EXPECT_FALSE(domain_exists(name)) << "stop left the domain running";
    EXPECT_TRUE(contains(ps_line(name), "Exited (137)")) << ps_line(name);
    CliResult console = run_isolab(paths, {"vm", "logs", "--console", name});
    EXPECT_TRUE(contains(console.out, "isolab-init: phase power-button")) << "the guest never saw the button:\n"
                                                                           << console.out;
    EXPECT_EQ(run_isolab(paths, {"vm", "rm", name}).exit_code, 0);
}

TEST_F(VmLifecycle, ExitCodeAndRmAfterGuestPowersOff) {
    const Paths& paths = test_root_.paths();
    std::string kept = new_name("exit3");
    std::string removed = new_name("rmflag");
    CliResult first = run_detached(paths, kept, {}, {"sh", "-c", "echo bye; exit 3"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    CliResult second = run_detached(paths, removed, {"--rm"}, {"true"});
    ASSERT_EQ(second.exit_code, 0) << second.err;

    bool both_gone = wait_for([&] { return !domain_exists(kept) && !domain_exists(removed); }, kBootDeadline);
    ASSERT_TRUE(both_gone) << "the guests did not power off by themselves";

    EXPECT_TRUE(contains(ps_line(kept), "Exited (3)")) << ps_line(kept);
    EXPECT_TRUE(ps_line(removed).empty()) << "--rm VM still listed: " << ps_line(removed);
    EXPECT_FALSE(fs::exists(paths.vms() / removed)) << "--rm VM's folder left behind";
    EXPECT_EQ(run_isolab(paths, {"vm", "logs", kept}).out, "bye\n");

    CliResult kill = run_isolab(paths, {"vm", "kill", kept});
    EXPECT_EQ(kill.exit_code, 1);
    EXPECT_TRUE(contains(kill.err, "is not running")) << kill.err;
    EXPECT_EQ(run_isolab(paths, {"vm", "rm", kept}).exit_code, 0);
    for (const auto& entry : fs::directory_iterator(paths.vms())) {
        EXPECT_FALSE(entry.is_directory()) << "VM folder left behind: " << entry.path();
    }
}

TEST_F(VmLifecycle, PsShowsExitedWhenDomainVanishes) {
    const Paths& paths = test_root_.paths();
    std::string name = new_name("vanish");
    CliResult started = run_detached(paths, name, {}, {"sleep", "600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    EXPECT_TRUE(contains(ps_line(name), "Up ")) << ps_line(name);

    // What a crash of QEMU, `virsh destroy` or a prune does: no isolab process sees it.
    destroy_domain(name);
    EXPECT_TRUE(contains(ps_line(name), "Exited (255)")) << ps_line(name);
    json record = json::parse(read_file(paths.vms() / name / "vm.json"));
    EXPECT_EQ(record["status"], "exited") << "ps did not record the exit";

    CliResult stats = run_isolab(paths, {"vm", "stats", name});
    EXPECT_EQ(stats.exit_code, 1);
    EXPECT_TRUE(contains(stats.err, "is not running")) << stats.err;

    CliResult rm = run_isolab(paths, {"vm", "rm", "-f", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
    EXPECT_FALSE(fs::exists(paths.vms() / name));
}

TEST_F(VmLifecycle, ConsoleRunsCommandAndDetaches) {
    const Paths& paths = test_root_.paths();
    std::string name = new_name("console");
    // The shell reads its commands from the serial console, isolab-init's stdin.
    CliResult started = run_detached(paths, name, {}, {"sh", "-c", "echo console-ready; exec sh"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    bool ready = wait_for([&] { return contains(run_isolab(paths, {"vm", "logs", name}).out, "console-ready"); },
                          kBootDeadline);
    ASSERT_TRUE(ready) << "the workload never started:\n" << run_isolab(paths, {"vm", "logs", "--console", name}).out;

    {
        ConsoleOnPty console(paths, name);
        ASSERT_TRUE(console.started());
        ASSERT_TRUE(console.wait_for_text("press Ctrl-] to detach", std::chrono::seconds(30))) << console.screen();
        // The guest's terminal echoes the line as typed; only the shell prints 42.
        console.type("echo console-$((6*7))\r");
        EXPECT_TRUE(console.wait_for_text("console-42", std::chrono::seconds(60))) << console.screen();
        console.type("\x1d");
        EXPECT_EQ(console.wait_exit(std::chrono::seconds(30)), 0) << console.screen();
        EXPECT_TRUE(contains(console.screen(), "console of " + name + " closed: detached")) << console.screen();
    }

    EXPECT_TRUE(domain_exists(name)) << "detaching from the console stopped the VM";
    EXPECT_TRUE(contains(ps_line(name), "Up ")) << ps_line(name);
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "logs", name}).out, "console-42")) << "the command's output is not in the log";

    CliResult rm = run_isolab(paths, {"vm", "rm", "-f", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
    EXPECT_FALSE(domain_exists(name));
    EXPECT_FALSE(fs::exists(paths.vms() / name));
}

TEST_F(VmLifecycle, UnknownVmRejected) {
    for (const char* command : {"stop", "kill", "rm", "logs", "inspect", "stats", "console", "exec"}) {
        CliResult result = run_isolab(test_root_.paths(), {"vm", command, "no-such-vm"});
        EXPECT_EQ(result.exit_code, 1) << command;
        EXPECT_TRUE(contains(result.err, "no such VM: no-such-vm")) << command << ": " << result.err;
        EXPECT_TRUE(one_line(result.err)) << command << ": " << result.err;
    }
}

}  // namespace
}  // namespace isolab
