// Detached VMs through libvirtd (qemu:///system) under TCG: `vm run -d`, ps, logs,
// inspect, stats, stop with its timeout, kill, rm, --rm, name collisions, and the status
// a reader shows after a domain vanished behind isolab's back. Needs root; starts
// libvirtd with scripts/start-libvirtd if needed. Each test boots at most two VMs at a
// time and destroys its domains on every path.
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
#include "libvirt_domains.hpp"
#include "support/test_support.hpp"
#include "vmdriver/libvirt/connection.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::run_isolab;
using testing::destroy_domain;
using testing::domain_exists;
using testing::wait_for;

// A detached busybox guest reaches its workload in 2-20 s under TCG on a loaded host.
constexpr std::chrono::seconds kBootDeadline{90};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool one_line(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

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

    std::string ps_line(const Paths& paths, const std::string& name) {
        CliResult ps = run_isolab(paths, {"vm", "ps", "-a"});
        EXPECT_EQ(ps.exit_code, 0) << ps.err;
        auto start = ps.out.find(name + " ");
        if (start == std::string::npos) return {};
        return ps.out.substr(start, ps.out.find('\n', start) - start);
    }

    testing::TestRoot test_root_;
};

TEST_F(VmLifecycle, DetachedPsLogsInspectStatsStopRm) {
    const Paths& paths = test_root_.paths();
    std::string name = new_name("life");
    CliResult started = run_detached(paths, name, {}, {"sh", "-c", "echo started-marker; sleep 600"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    EXPECT_EQ(started.out, name + "\n") << "vm run -d prints the VM's name";
    EXPECT_TRUE(domain_exists(name)) << "the domain outlives `vm run -d`";

    std::string running = ps_line(paths, name);
    EXPECT_TRUE(contains(running, "Up ")) << running;
    EXPECT_TRUE(contains(running, "busybox")) << running;
    EXPECT_TRUE(contains(running, "initramfs")) << running;
    EXPECT_TRUE(contains(running, "tcg")) << running;
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "ps"}).out, name)) << "vm ps without -a lists running VMs";

    CliResult logs;
    bool marker = wait_for(
        [&] {
            logs = run_isolab(paths, {"vm", "logs", name});
            return contains(logs.out, "started-marker\n");
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

    // In another state root the domain is a leftover that no record describes.
    testing::TestRoot other;
    CliResult leftover = run_detached(other.paths(), name, {}, {"true"});
    EXPECT_NE(leftover.exit_code, 0);
    EXPECT_TRUE(contains(leftover.err, "leftover libvirt domain")) << leftover.err;
    EXPECT_TRUE(contains(leftover.err, "virsh -c qemu:///system destroy " + name)) << leftover.err;
    EXPECT_TRUE(one_line(leftover.err)) << leftover.err;
    EXPECT_FALSE(fs::exists(other.paths().vms() / name)) << "a rejected run left its folder";

    // isolab-init sends SIGTERM to the workload on the power button and powers off.
    CliResult stop = run_isolab(paths, {"vm", "stop", "-t", "60", name});
    EXPECT_EQ(stop.exit_code, 0) << stop.err;
    EXPECT_FALSE(contains(stop.err, "did not power off")) << stop.err;
    EXPECT_FALSE(domain_exists(name)) << "stop left the domain running";
    EXPECT_TRUE(contains(ps_line(paths, name), "Exited (143)")) << ps_line(paths, name);
    EXPECT_FALSE(contains(run_isolab(paths, {"vm", "ps"}).out, name)) << "vm ps lists an exited VM";
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "logs", name}).out, "started-marker")) << "log lost after stop";

    CliResult rm = run_isolab(paths, {"vm", "rm", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
    EXPECT_FALSE(fs::exists(paths.vms() / name)) << "vm rm left the VM's folder";
    EXPECT_TRUE(ps_line(paths, name).empty()) << "vm ps -a still lists a removed VM";
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
    EXPECT_TRUE(contains(ps_line(paths, name), "Exited (137)")) << ps_line(paths, name);
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

    EXPECT_TRUE(contains(ps_line(paths, kept), "Exited (3)")) << ps_line(paths, kept);
    EXPECT_TRUE(ps_line(paths, removed).empty()) << "--rm VM still listed: " << ps_line(paths, removed);
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
    EXPECT_TRUE(contains(ps_line(paths, name), "Up ")) << ps_line(paths, name);

    // What a crash of QEMU, `virsh destroy` or a prune does: no isolab process sees it.
    destroy_domain(name);
    EXPECT_TRUE(contains(ps_line(paths, name), "Exited (255)")) << ps_line(paths, name);
    json record = json::parse(read_file(paths.vms() / name / "vm.json"));
    EXPECT_EQ(record["status"], "exited") << "ps did not record the exit";

    CliResult stats = run_isolab(paths, {"vm", "stats", name});
    EXPECT_EQ(stats.exit_code, 1);
    EXPECT_TRUE(contains(stats.err, "is not running")) << stats.err;

    CliResult rm = run_isolab(paths, {"vm", "rm", "-f", name});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
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
