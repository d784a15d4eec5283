// Detached containers under their monitor, driven through the isolab binary as a user
// types the commands: run -d, create, start, stop, kill, restart, wait, logs, inspect,
// ps, rm -f, restart policies, and the truth after the monitor is killed. Needs root.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/container/manage.hpp"
#include "runtime/container/prune.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/store.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class ContainerLifecycle : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
    }

    // Removes whatever a failed test left running, so no monitor outlives the test.
    void TearDown() override {
        if (!running_as_root()) return;
        for (const auto& stored : container::list_containers(root_.paths())) {
            try {
                container::remove_container(root_.paths(), stored.config.id, true);
            } catch (const Error& error) {
                ADD_FAILURE() << "cleanup of " << stored.config.id << ": " << error.what();
            }
        }
    }

    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    // Runs `run -d ARGUMENTS` and returns the printed id.
    std::string run_detached(const std::vector<std::string>& arguments) {
        std::vector<std::string> full = {"run", "-d"};
        full.insert(full.end(), arguments.begin(), arguments.end());
        auto result = isolab(full);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        std::string id = result.out.substr(0, result.out.find('\n'));
        EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{64}"))) << result.out;
        return id;
    }

    container::StoredContainer stored(const std::string& id) {
        auto found = container::find_container(root_.paths(), id);
        if (!found) throw std::runtime_error("container " + id + " not found");
        return *found;
    }

    json inspect(const std::string& id) {
        auto result = isolab({"inspect", id});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        auto array = json::parse(result.out);
        EXPECT_EQ(array.size(), 1u);
        return array.at(0);
    }

    static bool cgroup_exists(const std::string& id) {
        for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + id)) {
            if (fs::exists(directory)) return true;
        }
        return false;
    }

    bool mounts_under_root() const {
        return read_file("/proc/self/mountinfo").find(root_.root().string()) != std::string::npos;
    }

    bool no_containers() const { return container::list_containers(root_.paths()).empty(); }

    // prune also kills the processes of isolab-bench-* cgroups, which cannot be traced to
    // a state root: a benchmark that runs now must not lose them to this test.
    static bool benchmark_cgroups_present() {
        for (const auto& directory : kernel::find_isolab_cgroups(kernel::detect_cgroups())) {
            if (directory.filename().string().rfind("isolab-bench-", 0) == 0) return true;
        }
        return false;
    }

    TestRoot root_;
};

size_t line_count(const std::string& text) {
    size_t lines = 0;
    for (char c : text) lines += c == '\n';
    return lines;
}

bool alive(pid_t pid) { return container::process_start_ticks(pid) != 0; }

TEST_F(ContainerLifecycle, DetachedRunsUnderMonitor) {
    auto id = run_detached({"--name", "web", "busybox", "sleep", "60"});

    auto state = stored(id).state;
    EXPECT_EQ(state.status, "running");
    EXPECT_TRUE(alive(state.pid));
    EXPECT_TRUE(alive(state.monitor_pid));
    EXPECT_NE(state.monitor_pid, getpid());
    EXPECT_EQ(getsid(state.monitor_pid), state.monitor_pid) << "the monitor leads its own session";
    EXPECT_TRUE(cgroup_exists(id));

    auto ps = isolab({"ps"});
    EXPECT_NE(ps.out.find(id.substr(0, 12)), std::string::npos) << ps.out;
    EXPECT_TRUE(std::regex_search(ps.out, std::regex("Up (Less than a second|[0-9]+ seconds?)"))) << ps.out;
}

TEST_F(ContainerLifecycle, DevicesCgroupRemovedByRm) {
    auto host = kernel::detect_cgroups();
    if (host.version != kernel::CgroupVersion::v1 || !host.v1_hierarchies.contains("devices")) {
        GTEST_SKIP() << "needs the cgroup v1 devices controller";
    }
    auto id = run_detached({"busybox", "sleep", "60"});
    auto devices = host.on_host(host.v1_hierarchies.at("devices")) / ("isolab-" + id);

    ASSERT_TRUE(fs::is_directory(devices));
    auto list = read_file(devices / "devices.list");
    EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
    EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;

    auto removed = isolab({"rm", "-f", id});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(fs::exists(devices));
}

TEST_F(ContainerLifecycle, RemoveForceEndsEverything) {
    auto id = run_detached({"--name", "doomed", "busybox", "sleep", "60"});
    auto state = stored(id).state;

    auto refused = isolab({"rm", "doomed"});
    EXPECT_EQ(refused.exit_code, 1) << "a container in a state rm does not accept exits 1, as in Docker";
    EXPECT_EQ(line_count(refused.err), 1u) << refused.err;

    auto removed = isolab({"rm", "-f", "doomed"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(alive(state.pid));
    EXPECT_FALSE(alive(state.monitor_pid));
    EXPECT_FALSE(cgroup_exists(id));
    EXPECT_FALSE(mounts_under_root());
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerLifecycle, LogsSeparateStreams) {
    auto id = run_detached({"busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2"});
    auto waited = isolab({"wait", id});
    EXPECT_EQ(waited.out, "0\n") << waited.err;

    auto logs = isolab({"logs", id});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_EQ(logs.out, "out1\nout2\n");
    EXPECT_EQ(logs.err, "err1\n");

    auto file = read_file(stored(id).paths.log());
    EXPECT_NE(file.find("{\"log\":\"err1\\n\",\"stream\":\"stderr\",\"time\":\""), std::string::npos) << file;
}

TEST_F(ContainerLifecycle, LogsTailAndTimestamps) {
    auto id = run_detached({"busybox", "sh", "-c", "echo one; echo two; echo three"});
    isolab({"wait", id});

    auto tail = isolab({"logs", "--tail", "2", id});
    EXPECT_EQ(tail.out, "two\nthree\n");

    auto stamped = isolab({"logs", "-t", "--tail", "1", id});
    EXPECT_TRUE(std::regex_match(stamped.out, std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z three\n")))
        << stamped.out;

    auto invalid = isolab({"logs", "--tail", "x", id});
    EXPECT_EQ(invalid.exit_code, 125);
    EXPECT_EQ(line_count(invalid.err), 1u) << invalid.err;
}

TEST_F(ContainerLifecycle, ForegroundRunKeepsLogs) {
    auto run = isolab({"run", "--name", "fg", "busybox", "sh", "-c", "echo shown; echo warned >&2"});
    EXPECT_EQ(run.out, "shown\n");
    EXPECT_EQ(run.err, "warned\n");

    auto logs = isolab({"logs", "fg"});
    EXPECT_EQ(logs.out, "shown\n");
    EXPECT_EQ(logs.err, "warned\n");
}

TEST_F(ContainerLifecycle, LogsFollowUntilExit) {
    auto id = run_detached({"busybox", "sh", "-c", "echo first; sleep 1; echo second"});

    auto begin = std::chrono::steady_clock::now();
    auto followed = isolab({"logs", "-f", id});
    auto elapsed = std::chrono::steady_clock::now() - begin;

    EXPECT_EQ(followed.exit_code, 0) << followed.err;
    EXPECT_EQ(followed.out, "first\nsecond\n");
    EXPECT_LT(elapsed, 10s);
}

TEST_F(ContainerLifecycle, StopKillsAfterTimeout137) {
    auto id = run_detached({"busybox", "sh", "-c", "trap '' TERM; while true; do sleep 1; done"});

    auto begin = std::chrono::steady_clock::now();
    auto stopped = isolab({"stop", "-t", "2", id.substr(0, 8)});
    auto elapsed = std::chrono::steady_clock::now() - begin;

    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_EQ(stopped.out, id.substr(0, 8) + "\n");
    EXPECT_GE(elapsed, 1900ms);
    EXPECT_LT(elapsed, 8s);
    EXPECT_EQ(isolab({"wait", id}).out, "137\n");
    auto state = inspect(id)["State"];
    EXPECT_EQ(state["Status"], "exited");
    EXPECT_EQ(state["ExitCode"], 137);
    EXPECT_FALSE(cgroup_exists(id));
}

TEST_F(ContainerLifecycle, StopSignalFromImage) {
    image::Store store(root_.paths());
    auto busybox = store.ensure_busybox();
    auto run_config = busybox.config;
    run_config.stop_signal = "SIGINT";
    store.add_image("stop-with-int:test", image::make_image_config(run_config, busybox.created, busybox.history, busybox.layers),
                    busybox.layers);

    // A shell as pid 1 only gets the signals it has a handler for: INT here, TERM never.
    auto id = run_detached({"stop-with-int:test", "sh", "-c", "trap 'echo got INT; exit 3' INT; while true; do sleep 0.1; done"});
    auto stopped = isolab({"stop", "-t", "20", id});

    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_EQ(isolab({"wait", id}).out, "3\n");
    EXPECT_EQ(isolab({"logs", id}).out, "got INT\n");
    EXPECT_EQ(inspect(id)["Config"]["StopSignal"], "SIGINT");
}

TEST_F(ContainerLifecycle, KillSendsSignal) {
    auto id = run_detached({"busybox", "sh", "-c", "trap 'exit 5' HUP; while true; do sleep 0.1; done"});

    auto killed = isolab({"kill", "-s", "HUP", id});
    EXPECT_EQ(killed.exit_code, 0) << killed.err;
    EXPECT_EQ(isolab({"wait", id}).out, "5\n");

    auto again = isolab({"kill", id});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_EQ(line_count(again.err), 1u) << again.err;
    EXPECT_NE(again.err.find("is not running"), std::string::npos) << again.err;
}

TEST_F(ContainerLifecycle, CreateThenStart) {
    auto created = isolab({"create", "--name", "later", "busybox", "sh", "-c", "echo ran; exit 4"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto id = created.out.substr(0, created.out.find('\n'));

    EXPECT_EQ(inspect(id)["State"]["Status"], "created");
    auto ps = isolab({"ps", "-a"});
    EXPECT_NE(ps.out.find("Created"), std::string::npos) << ps.out;
    EXPECT_EQ(isolab({"logs", "later"}).out, "");

    auto started = isolab({"start", "-a", "later"});
    EXPECT_EQ(started.exit_code, 4) << started.err;
    EXPECT_EQ(started.out, "ran\n");

    // Started again, the container appends to the same log, and an attached start prints
    // only the output of its own run.
    EXPECT_EQ(isolab({"start", "later"}).exit_code, 0);
    EXPECT_EQ(isolab({"wait", "later"}).out, "4\n");
    EXPECT_EQ(isolab({"logs", "later"}).out, "ran\nran\n");
    EXPECT_EQ(isolab({"start", "-a", "later"}).out, "ran\n");
}

TEST_F(ContainerLifecycle, RestartStartsAgain) {
    auto id = run_detached({"busybox", "sleep", "60"});
    auto first_pid = stored(id).state.pid;

    auto restarted = isolab({"restart", "-t", "1", id});
    EXPECT_EQ(restarted.exit_code, 0) << restarted.err;
    auto state = stored(id).state;
    EXPECT_EQ(state.status, "running");
    EXPECT_NE(state.pid, first_pid);
    EXPECT_FALSE(alive(first_pid));
}

TEST_F(ContainerLifecycle, OnFailureRestartsUpToLimit) {
    auto id = run_detached({"--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 1"});

    EXPECT_EQ(isolab({"wait", id}).out, "1\n");
    auto inspected = inspect(id);
    EXPECT_EQ(inspected["RestartCount"], 2);
    EXPECT_EQ(inspected["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    EXPECT_EQ(inspected["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    EXPECT_EQ(isolab({"logs", id}).out, "try\ntry\ntry\n");
    EXPECT_FALSE(alive(stored(id).state.monitor_pid));
}

TEST_F(ContainerLifecycle, ManualStopEndsAlwaysPolicy) {
    auto id = run_detached({"--restart", "always", "busybox", "sh", "-c", "sleep 0.3"});
    for (int attempt = 0; attempt < 100 && stored(id).state.restart_count < 1; ++attempt) std::this_thread::sleep_for(100ms);
    ASSERT_GE(stored(id).state.restart_count, 1);

    EXPECT_EQ(isolab({"stop", "-t", "1", id}).exit_code, 0);
    auto count = stored(id).state.restart_count;
    std::this_thread::sleep_for(1500ms);

    auto state = stored(id).state;
    EXPECT_EQ(container::observed_state(stored(id)).status, "exited");
    EXPECT_EQ(state.restart_count, count);
    EXPECT_FALSE(alive(state.monitor_pid));
    EXPECT_FALSE(cgroup_exists(id));
}

TEST_F(ContainerLifecycle, OomKilledInInspect) {
    auto id = run_detached({"-m", "8m", "busybox", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a)"});

    EXPECT_EQ(isolab({"wait", id}).out, "137\n");
    auto state = inspect(id)["State"];
    EXPECT_EQ(state["OOMKilled"], true);
    EXPECT_EQ(state["ExitCode"], 137);
}

TEST_F(ContainerLifecycle, DetachedRemoveAtExit) {
    auto id = run_detached({"--rm", "busybox", "true"});
    for (int attempt = 0; attempt < 100 && !no_containers(); ++attempt) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(no_containers());
    EXPECT_FALSE(cgroup_exists(id));
}

TEST_F(ContainerLifecycle, CommandNotFoundDetached127) {
    auto result = isolab({"run", "-d", "--name", "missing", "busybox", "no-such-command"});

    EXPECT_EQ(result.exit_code, 127);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, "isolab: exec: \"no-such-command\": executable file not found in $PATH\n");
    auto ps = isolab({"ps", "-a"});
    EXPECT_NE(ps.out.find("Exited (127)"), std::string::npos) << ps.out;
}

TEST_F(ContainerLifecycle, NotExecutableDetached126) {
    auto result = isolab({"run", "-d", "busybox", "/etc/passwd"});

    EXPECT_EQ(result.exit_code, 126);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("permission denied"), std::string::npos) << result.err;
}

TEST_F(ContainerLifecycle, InvalidRequestsRejected) {
    struct Case {
        std::vector<std::string> arguments;
        std::string expected;
    };
    std::vector<Case> cases = {
        {{"run", "-d", "--restart", "sometimes", "busybox", "true"}, "invalid restart policy 'sometimes'"},
        {{"run", "-d", "--rm", "--restart", "always", "busybox", "true"}, "conflicting options"},
        {{"run", "--restart", "always", "busybox", "true"}, "--restart needs -d"},
        {{"kill", "-s", "NOPE", "x"}, "invalid signal 'NOPE'"},
        {{"stop", "no-such-container"}, "no such container: no-such-container"},
    };
    for (const auto& test_case : cases) {
        auto result = isolab(test_case.arguments);
        EXPECT_NE(result.exit_code, 0) << test_case.expected;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(test_case.expected), std::string::npos) << result.err;
    }
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerLifecycle, NamesStayUnique) {
    ASSERT_EQ(isolab({"create", "--name", "twin", "busybox", "true"}).exit_code, 0);
    auto second = isolab({"run", "-d", "--name", "twin", "busybox", "true"});

    EXPECT_EQ(second.exit_code, 125);
    EXPECT_EQ(line_count(second.err), 1u) << second.err;
    EXPECT_NE(second.err.find("already in use"), std::string::npos) << second.err;
    EXPECT_EQ(container::list_containers(root_.paths()).size(), 1u);
}

TEST_F(ContainerLifecycle, InspectDockerShape) {
    auto id = run_detached({"--name", "shape", "-m", "64m", "-e", "A=1", "-w", "/tmp", "busybox", "sleep", "60"});
    auto object = inspect(id.substr(0, 10));

    EXPECT_EQ(object["Id"], id);
    EXPECT_EQ(object["Name"], "/shape");
    EXPECT_EQ(object["Path"], "sleep");
    EXPECT_EQ(object["Args"], json({"60"}));
    EXPECT_EQ(object["State"]["Status"], "running");
    EXPECT_EQ(object["State"]["Running"], true);
    EXPECT_EQ(object["State"]["Paused"], false);
    EXPECT_EQ(object["State"]["Pid"], stored(id).state.pid);
    EXPECT_EQ(object["RestartCount"], 0);
    EXPECT_EQ(object["Config"]["Cmd"], json({"sleep", "60"}));
    EXPECT_EQ(object["Config"]["Image"], "busybox");
    EXPECT_EQ(object["Config"]["WorkingDir"], "/tmp");
    EXPECT_EQ(object["Config"]["Hostname"], id.substr(0, 12));
    EXPECT_NE(object["Config"]["Env"].dump().find("\"A=1\""), std::string::npos);
    EXPECT_EQ(object["HostConfig"]["Memory"], 64 << 20);
    EXPECT_EQ(object["Image"], stored(id).config.image_id);
}

TEST_F(ContainerLifecycle, InspectMissingStillPrintsFound) {
    ASSERT_EQ(isolab({"create", "--name", "present", "busybox", "true"}).exit_code, 0);

    auto result = isolab({"inspect", "present", "absent"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "isolab: no such container: absent (list them with 'isolab ps -a')\n");
    auto array = json::parse(result.out);
    ASSERT_EQ(array.size(), 1u);
    EXPECT_EQ(array[0]["Name"], "/present");
}

TEST_F(ContainerLifecycle, PsFormatJson) {
    auto id = run_detached({"--name", "listed", "busybox", "sleep", "60"});
    ASSERT_EQ(isolab({"create", "--name", "waiting", "busybox", "true"}).exit_code, 0);

    auto result = isolab({"ps", "-a", "--format", "json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    ASSERT_EQ(line_count(result.out), 2u) << result.out;
    // Newest first, as Docker lists them.
    auto created = json::parse(result.out.substr(0, result.out.find('\n')));
    EXPECT_EQ(created["State"], "created");
    EXPECT_EQ(created["Status"], "Created");
    auto running = json::parse(result.out.substr(result.out.find('\n') + 1));
    EXPECT_EQ(running["ID"], id.substr(0, 12));
    EXPECT_EQ(running["Names"], "listed");
    EXPECT_EQ(running["State"], "running");
    EXPECT_EQ(running["Command"], "\"sleep 60\"");
    EXPECT_EQ(running["Status"].get<std::string>().rfind("Up ", 0), 0u) << running;
}

TEST_F(ContainerLifecycle, ExitedStatusAgo) {
    auto id = run_detached({"busybox", "true"});
    isolab({"wait", id});

    auto ps = isolab({"ps", "-a"});
    EXPECT_TRUE(std::regex_search(ps.out, std::regex("Exited \\(0\\) (Less than a second|[0-9]+ seconds?) ago"))) << ps.out;
}

// kill -9 of the monitor: the container keeps running as with Docker and podman, ps shows
// it exited once its processes are gone, and rm -f leaves nothing behind.
TEST_F(ContainerLifecycle, MonitorKilledTruthAndCleanup) {
    auto id = run_detached({"--name", "orphan", "busybox", "sleep", "60"});
    auto state = stored(id).state;
    ASSERT_EQ(kill(state.monitor_pid, SIGKILL), 0);
    for (int attempt = 0; attempt < 100 && alive(state.monitor_pid); ++attempt) std::this_thread::sleep_for(20ms);
    ASSERT_FALSE(alive(state.monitor_pid));

    EXPECT_TRUE(alive(state.pid)) << "the container outlives its monitor";
    auto up = isolab({"ps"});
    EXPECT_NE(up.out.find("orphan"), std::string::npos) << up.out;

    ASSERT_EQ(kill(state.pid, SIGKILL), 0);
    for (int attempt = 0; attempt < 100 && alive(state.pid); ++attempt) std::this_thread::sleep_for(20ms);
    auto listed = isolab({"ps"});
    EXPECT_EQ(listed.out.find("orphan"), std::string::npos) << listed.out;
    auto all = isolab({"ps", "-a"});
    EXPECT_NE(all.out.find("Exited (255)"), std::string::npos) << all.out;
    EXPECT_EQ(inspect(id)["State"]["Status"], "exited");
    EXPECT_TRUE(cgroup_exists(id)) << "nobody removed the cgroup yet";

    auto removed = isolab({"rm", "-f", "orphan"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(cgroup_exists(id));
    EXPECT_FALSE(mounts_under_root());
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerLifecycle, MonitorKilledStopStillWorks) {
    auto id = run_detached({"busybox", "sleep", "60"});
    auto state = stored(id).state;
    ASSERT_EQ(kill(state.monitor_pid, SIGKILL), 0);

    auto stopped = isolab({"stop", "-t", "1", id});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_FALSE(alive(state.pid));
    EXPECT_EQ(isolab({"wait", id}).out, "137\n");
}

TEST_F(ContainerLifecycle, PruneRemovesOrphanedCgroup) {
    if (benchmark_cgroups_present()) GTEST_SKIP() << "a benchmark's cgroups exist on this host";
    auto id = run_detached({"busybox", "sleep", "60"});
    auto state = stored(id).state;
    ASSERT_EQ(kill(state.monitor_pid, SIGKILL), 0);
    ASSERT_EQ(kill(state.pid, SIGKILL), 0);
    for (int attempt = 0; attempt < 100 && (alive(state.pid) || alive(state.monitor_pid)); ++attempt) {
        std::this_thread::sleep_for(20ms);
    }

    // The library function behind `system prune --force`; the command also removes
    // libvirt domains, which this test must not touch.
    auto removed = container::prune_containers(root_.paths());
    EXPECT_EQ(removed.containers, std::vector<std::string>{id});
    EXPECT_FALSE(cgroup_exists(id));
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerLifecycle, PruneKeepsRunningDetached) {
    if (benchmark_cgroups_present()) GTEST_SKIP() << "a benchmark's cgroups exist on this host";
    auto id = run_detached({"busybox", "sleep", "60"});

    auto removed = container::prune_containers(root_.paths());
    EXPECT_TRUE(removed.containers.empty());
    EXPECT_TRUE(cgroup_exists(id));
    EXPECT_TRUE(alive(stored(id).state.pid));
}

TEST_F(ContainerLifecycle, PruneLeavesOtherStateRoots) {
    if (benchmark_cgroups_present()) GTEST_SKIP() << "a benchmark's cgroups exist on this host";
    TestRoot other;
    auto started = run_isolab(other.paths(), {"run", "-d", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto id = started.out.substr(0, 64);

    auto removed = container::prune_containers(root_.paths());
    auto other_container = container::find_container(other.paths(), id);
    ASSERT_TRUE(other_container.has_value());
    bool still_running = alive(other_container->state.pid);
    bool cgroup_kept = cgroup_exists(id);
    container::remove_container(other.paths(), id, true);

    EXPECT_TRUE(removed.cgroups.empty()) << ::testing::PrintToString(removed.cgroups);
    EXPECT_TRUE(still_running);
    EXPECT_TRUE(cgroup_kept);
}

TEST_F(ContainerLifecycle, DetachedRunMountsVolume) {
    auto id = run_detached({"-v", "kept:/data", "busybox", "sh", "-c", "echo written > /data/f"});
    EXPECT_EQ(isolab({"wait", id}).out, "0\n");

    auto read = isolab({"run", "--rm", "-v", "kept:/data", "busybox", "cat", "/data/f"});
    EXPECT_EQ(read.out, "written\n") << read.err;
}

}  // namespace
}  // namespace isolab::testing
