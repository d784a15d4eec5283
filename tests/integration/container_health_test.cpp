// Health checks with real containers: `run --health-*` and the image's HEALTHCHECK, the
// status, streak and log in `inspect`, the STATUS column of `ps`, a check killed at its
// timeout, --no-healthcheck, and no health written after the container stopped.
// Needs root.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class ContainerHealth : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
    }

    void TearDown() override {
        if (running_as_root()) {
            EXPECT_EQ(remove_all_containers(root_.paths()), std::vector<std::string>{});
        }
    }

    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    // Starts `isolab run -d --name NAME OPTIONS busybox COMMAND`.
    void run_detached(const std::string& name, const std::vector<std::string>& options,
                      const std::vector<std::string>& command = {"sleep", "60"}, const std::string& image = "busybox") {
        std::vector<std::string> arguments{"run", "-d", "--name", name};
        arguments.insert(arguments.end(), options.begin(), options.end());
        arguments.push_back(image);
        arguments.insert(arguments.end(), command.begin(), command.end());
        auto result = isolab(arguments);
        ASSERT_EQ(result.exit_code, 0) << result.err;
    }

    json inspect(const std::string& name) {
        auto result = isolab({"inspect", name});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return result.exit_code == 0 ? json::parse(result.out).at(0) : json::object();
    }

    // Polls inspect until `done` holds for the container's State.Health, for at most
    // `limit`. Returns the last State.
    json wait_for_health(const std::string& name, const std::function<bool(const json&)>& done,
                         std::chrono::milliseconds limit = 10s) {
        auto end = std::chrono::steady_clock::now() + limit;
        json state;
        while (std::chrono::steady_clock::now() < end) {
            state = inspect(name).value("State", json::object());
            if (state.contains("Health") && done(state["Health"])) return state;
            std::this_thread::sleep_for(50ms);
        }
        ADD_FAILURE() << "health of " << name << " did not reach the expected state: " << state.dump();
        return state;
    }

    json wait_for_status(const std::string& name, const std::string& status, std::chrono::milliseconds limit = 10s) {
        return wait_for_health(name, [&](const json& health) { return health.at("Status") == status; }, limit);
    }

    std::string ps_status(const std::string& name) {
        auto result = isolab({"ps", "-a", "--format", "{{.Names}} {{.Status}}"});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        std::istringstream lines(result.out);
        std::string line;
        while (std::getline(lines, line)) {
            if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
        }
        return "";
    }

    TestRoot root_;
};

TEST_F(ContainerHealth, PassingCheckMakesHealthy) {
    run_detached("good", {"--health-cmd", "echo fine", "--health-interval", "200ms"});

    auto state = wait_for_status("good", "healthy");

    const auto& health = state.at("Health");
    EXPECT_EQ(health.at("FailingStreak"), 0);
    ASSERT_FALSE(health.at("Log").empty());
    EXPECT_EQ(health.at("Log").at(0).at("ExitCode"), 0);
    EXPECT_EQ(health.at("Log").at(0).at("Output"), "fine\n");
    EXPECT_FALSE(health.at("Log").at(0).at("Start").get<std::string>().empty());
    EXPECT_FALSE(health.at("Log").at(0).at("End").get<std::string>().empty());
}

TEST_F(ContainerHealth, FailuresMakeUnhealthyWithStreak) {
    run_detached("bad", {"--health-cmd", "echo down; exit 1", "--health-interval", "500ms", "--health-retries", "2"});

    auto first = wait_for_health("bad", [](const json& health) { return health.at("FailingStreak") == 1; });
    EXPECT_EQ(first.at("Health").at("Status"), "starting");
    auto state = wait_for_status("bad", "unhealthy");

    const auto& health = state.at("Health");
    EXPECT_GE(health.at("FailingStreak").get<int>(), 2);
    ASSERT_FALSE(health.at("Log").empty());
    for (const auto& entry : health.at("Log")) {
        EXPECT_EQ(entry.at("ExitCode"), 1) << entry;
        EXPECT_EQ(entry.at("Output"), "down\n") << entry;
    }
}

TEST_F(ContainerHealth, LogKeepsFiveResults) {
    run_detached("many", {"--health-cmd", "true", "--health-interval", "100ms"});

    auto state = wait_for_health("many", [](const json& health) { return health.at("Log").size() == 5; });
    std::this_thread::sleep_for(500ms);
    state = inspect("many").at("State");

    EXPECT_EQ(state.at("Health").at("Log").size(), 5U);
}

TEST_F(ContainerHealth, TimeoutKillsCheck) {
    run_detached("slow", {"--health-cmd", "sleep 30", "--health-interval", "2s", "--health-timeout", "300ms",
                          "--health-retries", "1"});

    auto state = wait_for_status("slow", "unhealthy");
    // The next check starts 2 s after this one ended: its sleep is not running yet.
    auto processes = isolab({"exec", "slow", "ps", "-o", "args"});

    const auto& entry = state.at("Health").at("Log").at(0);
    EXPECT_EQ(entry.at("ExitCode"), -1);
    EXPECT_EQ(entry.at("Output"), "Health check exceeded timeout (300ms)");
    auto start = container::parse_rfc3339(entry.at("Start"));
    auto end = container::parse_rfc3339(entry.at("End"));
    ASSERT_TRUE(start);
    ASSERT_TRUE(end);
    EXPECT_LT(*end - *start, 2s);
    ASSERT_EQ(processes.exit_code, 0) << processes.err;
    EXPECT_EQ(processes.out.find("sleep 30"), std::string::npos) << processes.out;
}

TEST_F(ContainerHealth, CheckMissingExecutableFails) {
    run_detached("missing", {"--health-cmd", "x", "--health-interval", "200ms", "--health-retries", "1"});
    // CMD-SHELL runs through sh, so a missing command exits 127 inside the shell.
    auto state = wait_for_status("missing", "unhealthy");

    EXPECT_EQ(state.at("Health").at("Log").at(0).at("ExitCode"), 127);
}

TEST_F(ContainerHealth, PsShowsHealth) {
    run_detached("shown", {"--health-cmd", "true", "--health-interval", "200ms"});
    run_detached("waiting", {"--health-cmd", "true", "--health-interval", "1m"});
    run_detached("plain", {});
    wait_for_status("shown", "healthy");

    EXPECT_TRUE(std::regex_match(ps_status("shown"), std::regex(R"(Up .+ \(healthy\))"))) << ps_status("shown");
    EXPECT_TRUE(std::regex_match(ps_status("waiting"), std::regex(R"(Up .+ \(health: starting\))")))
        << ps_status("waiting");
    EXPECT_TRUE(std::regex_match(ps_status("plain"), std::regex(R"(Up [^(]+)"))) << ps_status("plain");
}

TEST_F(ContainerHealth, InspectShowsConfigHealthcheck) {
    run_detached("configured", {"--health-cmd", "true", "--health-interval", "1m", "--health-retries", "4"});

    auto object = inspect("configured");

    const auto& healthcheck = object.at("Config").at("Healthcheck");
    EXPECT_EQ(healthcheck.at("Test"), json::array({"CMD-SHELL", "true"}));
    EXPECT_EQ(healthcheck.at("Interval"), 60'000'000'000LL);
    EXPECT_EQ(healthcheck.at("Retries"), 4);
    EXPECT_EQ(object.at("State").at("Health").at("Status"), "starting");
    EXPECT_EQ(object.at("State").at("Health").at("FailingStreak"), 0);
}

TEST_F(ContainerHealth, NoHealthWithoutCheck) {
    run_detached("unchecked", {});

    auto object = inspect("unchecked");

    EXPECT_FALSE(object.at("State").contains("Health")) << object.at("State");
    EXPECT_FALSE(object.at("Config").contains("Healthcheck")) << object.at("Config");
}

TEST_F(ContainerHealth, ImageHealthcheckFromBuild) {
    auto context = root_.root() / "context";
    fs::create_directories(context);
    std::ofstream(context / "Dockerfile") << "FROM busybox\n"
                                             "HEALTHCHECK --interval=200ms --retries=2 CMD test -f /tmp/ready || exit 1\n"
                                             "CMD [\"sleep\", \"60\"]\n";
    auto built = isolab({"build", "-t", "checked", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    run_detached("from-image", {}, {}, "checked");

    auto unhealthy = wait_for_status("from-image", "unhealthy");
    auto touched = isolab({"exec", "from-image", "touch", "/tmp/ready"});
    ASSERT_EQ(touched.exit_code, 0) << touched.err;
    auto healthy = wait_for_status("from-image", "healthy");

    EXPECT_GE(unhealthy.at("Health").at("FailingStreak").get<int>(), 2);
    EXPECT_EQ(healthy.at("Health").at("FailingStreak"), 0);
    EXPECT_EQ(inspect("from-image").at("Config").at("Healthcheck").at("Test"),
              json::array({"CMD-SHELL", "test -f /tmp/ready || exit 1"}));
}

TEST_F(ContainerHealth, NoHealthcheckDisablesImageCheck) {
    auto context = root_.root() / "context";
    fs::create_directories(context);
    std::ofstream(context / "Dockerfile") << "FROM busybox\nHEALTHCHECK --interval=100ms CMD true\n";
    auto built = isolab({"build", "-t", "checked", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    run_detached("disabled", {"--no-healthcheck"}, {"sleep", "60"}, "checked");

    std::this_thread::sleep_for(500ms);
    auto object = inspect("disabled");

    EXPECT_EQ(object.at("Config").at("Healthcheck").at("Test"), json::array({"NONE"}));
    EXPECT_FALSE(object.at("State").contains("Health")) << object.at("State");
    EXPECT_TRUE(std::regex_match(ps_status("disabled"), std::regex(R"(Up [^(]+)"))) << ps_status("disabled");
}

TEST_F(ContainerHealth, NoHealthcheckConflictsWithCmd) {
    auto result = isolab({"run", "-d", "--no-healthcheck", "--health-cmd", "true", "busybox", "sleep", "60"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(result.err, "isolab: --no-healthcheck conflicts with --health-* options (drop --no-healthcheck or the --health-* options)\n");
    EXPECT_TRUE(container::list_containers(root_.paths()).empty());
}

TEST_F(ContainerHealth, ForegroundRunKeepsHealth) {
    auto result = isolab({"run", "--name", "fg", "--health-cmd", "true", "--health-interval", "100ms", "busybox", "sleep", "2"});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    auto state = inspect("fg").at("State");

    ASSERT_TRUE(state.contains("Health")) << state;
    EXPECT_EQ(state.at("Health").at("Status"), "healthy");
    auto finished = container::parse_rfc3339(state.at("FinishedAt"));
    ASSERT_TRUE(finished);
    for (const auto& entry : state.at("Health").at("Log")) {
        auto end = container::parse_rfc3339(entry.at("End"));
        ASSERT_TRUE(end);
        EXPECT_LE(*end, *finished) << entry;
    }
}

TEST_F(ContainerHealth, NothingWrittenAfterStop) {
    run_detached("stopped", {"--init", "--health-cmd", "sleep 0.05", "--health-interval", "10ms"});
    wait_for_status("stopped", "healthy");
    auto stopped = isolab({"stop", "stopped"});
    ASSERT_EQ(stopped.exit_code, 0) << stopped.err;

    auto container = container::require_container(root_.paths(), "stopped");
    auto before = read_file(container.paths.state());
    std::this_thread::sleep_for(500ms);
    auto after = read_file(container.paths.state());

    EXPECT_EQ(before, after);
    auto state = json::parse(after);
    EXPECT_EQ(state.at("status"), "exited");
    auto finished = container::parse_rfc3339(state.at("finished_at"));
    ASSERT_TRUE(finished);
    for (const auto& entry : state.at("health").at("Log")) {
        auto end = container::parse_rfc3339(entry.at("End"));
        ASSERT_TRUE(end);
        EXPECT_LE(*end, *finished) << entry;
    }
}

TEST_F(ContainerHealth, RemovalDuringChecksLeavesNothing) {
    run_detached("removed", {"--health-cmd", "sleep 0.05", "--health-interval", "10ms"});
    wait_for_status("removed", "healthy");
    auto container = container::require_container(root_.paths(), "removed");
    auto monitor = container.state.monitor_pid;
    auto monitor_ticks = container.state.monitor_start_ticks;

    auto removed = isolab({"rm", "-f", "removed"});

    ASSERT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(fs::exists(container.paths.directory));
    for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + container.config.id)) {
        EXPECT_FALSE(fs::exists(directory)) << directory;
    }
    EXPECT_EQ(read_file("/proc/self/mountinfo").find(root_.root().string()), std::string::npos);
    EXPECT_FALSE(container::process_alive(monitor, monitor_ticks));
}

}  // namespace
}  // namespace isolab::testing
