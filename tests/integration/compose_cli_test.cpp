// `isolab compose` with real containers, driven through the isolab binary: up -d, ps,
// down, environment values, named volumes, depends_on order and conditions, health
// checks, recreation, config and bad files. Needs root.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/volume/volume.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ComposeCli : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
        project_dir_ = root_.root() / "project";
        fs::create_directories(project_dir_);
    }

    void TearDown() override {
        if (!running_as_root()) return;
        for (const auto& stored : container::list_containers(root_.paths())) {
            try {
                container::remove_container(root_.paths(), stored.config.id, true);
            } catch (const Error& error) {
                ADD_FAILURE() << "cleanup of " << stored.config.id << ": " << error.what();
            }
        }
        // The project's default network and its bridge.
        run_isolab(root_.paths(), {"network", "prune", "-f"});
    }

    void write_compose(const std::string& text) { std::ofstream(project_dir_ / "compose.yaml") << text; }

    // Runs `isolab compose -f PROJECT/compose.yaml -p demo ARGUMENTS`.
    CliResult compose(const std::vector<std::string>& arguments) {
        std::vector<std::string> full = {"compose", "-f", (project_dir_ / "compose.yaml").string(), "-p", "demo"};
        full.insert(full.end(), arguments.begin(), arguments.end());
        return run_isolab(root_.paths(), full);
    }

    std::vector<json> ps_json(bool all) {
        auto result = compose(all ? std::vector<std::string>{"ps", "-a", "--format", "json"}
                                  : std::vector<std::string>{"ps", "--format", "json"});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        std::vector<json> objects;
        std::string line;
        std::istringstream lines(result.out);
        while (std::getline(lines, line)) {
            if (!line.empty()) objects.push_back(json::parse(line));
        }
        return objects;
    }

    std::string container_id(const std::string& name) {
        auto found = container::find_container(root_.paths(), name);
        return found ? found->config.id : "";
    }

    TestRoot root_;
    fs::path project_dir_;
};

TEST_F(ComposeCli, UpPsDown) {
    write_compose("services:\n  greeter:\n    image: busybox\n    mem_limit: 64m\n"
                  "    environment:\n      GREETING: hello\n"
                  "    command: [\"sh\", \"-c\", \"echo \\\"$$GREETING\\\"; sleep 1234\"]\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    auto running = ps_json(false);
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0]["Name"], "demo-greeter-1");
    EXPECT_EQ(running[0]["Service"], "greeter");
    EXPECT_EQ(running[0]["State"], "running");
    EXPECT_EQ(running[0]["Project"], "demo");
    EXPECT_EQ(running[0]["Status"].get<std::string>().substr(0, 3), "Up ");

    auto logs = compose({"logs"});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_NE(logs.out.find("demo-greeter-1 | hello"), std::string::npos) << logs.out;

    auto down = compose({"down"});
    ASSERT_EQ(down.exit_code, 0) << down.err;
    EXPECT_TRUE(ps_json(true).empty());
    EXPECT_TRUE(container::list_containers(root_.paths()).empty());
}

TEST_F(ComposeCli, EnvironmentKeepsEqualsInValues) {
    write_compose("services:\n  env:\n    image: busybox\n    environment:\n"
                  "      - URL=http://host/?a=b&c=d\n      - EMPTY=\n    command: [\"env\"]\n");

    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    ASSERT_EQ(run_isolab(root_.paths(), {"wait", "demo-env-1"}).exit_code, 0);
    auto logs = run_isolab(root_.paths(), {"logs", "demo-env-1"});

    EXPECT_NE(logs.out.find("URL=http://host/?a=b&c=d\n"), std::string::npos) << logs.out;
    EXPECT_NE(logs.out.find("EMPTY=\n"), std::string::npos) << logs.out;
}

TEST_F(ComposeCli, NamedVolumeSurvivesDownButNotDownV) {
    write_compose("services:\n  writer:\n    image: busybox\n    volumes: [\"data:/data\"]\n"
                  "    command: [\"sh\", \"-c\", \"echo run >> /data/runs; sleep 1234\"]\n"
                  "volumes:\n  data:\n");

    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    ASSERT_EQ(compose({"down"}).exit_code, 0);
    ASSERT_TRUE(volume::find_volume(root_.paths(), "demo_data"));

    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    auto runs = run_isolab(root_.paths(), {"exec", "demo-writer-1", "cat", "/data/runs"});
    EXPECT_EQ(runs.out, "run\nrun\n");

    ASSERT_EQ(compose({"down", "-v"}).exit_code, 0);
    EXPECT_FALSE(volume::find_volume(root_.paths(), "demo_data"));
}

TEST_F(ComposeCli, DependsOnStartsDependencyFirst) {
    // setup must finish writing before app reads; app is listed first in the file.
    write_compose("services:\n"
                  "  app:\n    image: busybox\n    volumes: [\"shared:/s\"]\n"
                  "    depends_on:\n      setup:\n        condition: service_completed_successfully\n"
                  "    command: [\"sh\", \"-c\", \"cat /s/ready; sleep 1234\"]\n"
                  "  setup:\n    image: busybox\n    volumes: [\"shared:/s\"]\n"
                  "    command: [\"sh\", \"-c\", \"sleep 1; echo ready > /s/ready\"]\n"
                  "volumes:\n  shared:\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    // up -d returns once app runs, which may be before its cat has printed.
    auto logs = run_isolab(root_.paths(), {"logs", "demo-app-1"});
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
         logs.out.empty() && std::chrono::steady_clock::now() < deadline;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        logs = run_isolab(root_.paths(), {"logs", "demo-app-1"});
    }

    EXPECT_EQ(logs.out, "ready\n") << logs.err;
    EXPECT_LT(up.err.find("demo-setup-1"), up.err.find("demo-app-1")) << up.err;
}

TEST_F(ComposeCli, FailedDependencyStopsUp) {
    write_compose("services:\n  app:\n    image: busybox\n    depends_on:\n      setup:\n"
                  "        condition: service_completed_successfully\n    command: [\"true\"]\n"
                  "  setup:\n    image: busybox\n    command: [\"sh\", \"-c\", \"exit 3\"]\n");

    auto up = compose({"up", "-d"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_NE(up.err.find("service setup exited with code 3"), std::string::npos) << up.err;
    EXPECT_FALSE(container::find_container(root_.paths(), "demo-app-1"));
}

TEST_F(ComposeCli, UpLeavesUnchangedAndRecreatesChanged) {
    write_compose("services:\n  web:\n    image: busybox\n    environment: [V=1]\n    command: [sleep, \"1234\"]\n");
    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    auto first = container_id("demo-web-1");

    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    EXPECT_EQ(container_id("demo-web-1"), first);

    write_compose("services:\n  web:\n    image: busybox\n    environment: [V=2]\n    command: [sleep, \"1234\"]\n");
    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    auto second = container_id("demo-web-1");
    EXPECT_NE(second, first);
    EXPECT_EQ(container::list_containers(root_.paths()).size(), 1u);
}

TEST_F(ComposeCli, UpAttachedPrintsOutputUntilExit) {
    write_compose("services:\n  once:\n    image: busybox\n    command: [echo, done here]\n");

    auto up = compose({"up"});

    EXPECT_EQ(up.exit_code, 0) << up.err;
    EXPECT_NE(up.out.find("demo-once-1 | done here"), std::string::npos) << up.out;
}

// A relative bind becomes an absolute path, which `-v` cannot carry when the project
// folder contains ':'; both syntaxes still mount it, read-only where asked.
TEST_F(ComposeCli, BindFromFolderWithColonAndComma) {
    project_dir_ = root_.root() / "proj,a:b \"c\"";
    fs::create_directories(project_dir_ / "site");
    std::ofstream(project_dir_ / "site" / "index") << "from the host\n";
    write_compose("services:\n  web:\n    image: busybox\n"
                  "    command: [sh, -c, 'cat /short/index /long/index; touch /short/w || echo short-read-only']\n"
                  "    volumes:\n      - ./site:/short:ro\n"
                  "      - type: bind\n        source: ./site\n        target: /long\n");

    auto up = compose({"up"});

    EXPECT_EQ(up.exit_code, 0) << up.err;
    std::string twice = "demo-web-1 | from the host\ndemo-web-1 | from the host\n";
    EXPECT_NE(up.out.find(twice), std::string::npos) << up.out;
    EXPECT_NE(up.out.find("short-read-only"), std::string::npos) << up.out;
    auto config = compose({"config"});
    EXPECT_NE(config.out.find("source: " + (project_dir_ / "site").string()), std::string::npos) << config.out;
    EXPECT_EQ(compose({"down"}).exit_code, 0);
}

TEST_F(ComposeCli, ConfigPrintsMergedAndInterpolated) {
    write_compose("services:\n  web:\n    image: busybox:${TAG:-latest}\n    command: echo $$HOME\n");
    std::ofstream(project_dir_ / "override.yaml") << "services:\n  web:\n    environment: [A=b=c]\n";

    auto config = run_isolab(root_.paths(), {"compose", "-f", (project_dir_ / "compose.yaml").string(), "-f",
                                             (project_dir_ / "override.yaml").string(), "-p", "demo", "config"});

    ASSERT_EQ(config.exit_code, 0) << config.err;
    EXPECT_NE(config.out.find("image: busybox:latest"), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("[echo, $HOME]"), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("A: b=c"), std::string::npos) << config.out;
}

TEST_F(ComposeCli, ExecUnknownServiceNamed) {
    write_compose("services:\n  web:\n    image: busybox\n");

    auto exec = compose({"exec", "-T", "nosuch", "sh"});

    EXPECT_EQ(exec.exit_code, 1);
    EXPECT_EQ(exec.err, "isolab: no such service: nosuch (see the services with 'isolab compose config')\n");
}

TEST_F(ComposeCli, BadFileGivesOneLine) {
    write_compose("services:\n  web:\n    image: busybox\n    cpus: many\n");

    auto up = compose({"up", "-d"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
    EXPECT_NE(up.err.find("compose.yaml:4: services.web.cpus:"), std::string::npos) << up.err;
    EXPECT_TRUE(container::list_containers(root_.paths()).empty());
}

TEST_F(ComposeCli, ConfigPrintsPortsAndNetworks) {
    write_compose("services:\n  web:\n    image: busybox\n    ports: [\"8080:80\"]\n    command: [\"true\"]\n");

    auto config = compose({"config"});

    EXPECT_EQ(config.exit_code, 0) << config.err;
    EXPECT_EQ(config.err, "");
    EXPECT_NE(config.out.find("ports:\n      - 8080:80/tcp\n"), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("networks:\n  default:\n    name: demo_default\n"), std::string::npos) << config.out;
}

// The `isolab inspect` object of one container.
json inspect_container(const TestRoot& root, const std::string& name) {
    auto result = run_isolab(root.paths(), {"inspect", name});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? json::parse(result.out).at(0) : json::object();
}

TEST_F(ComposeCli, UpWaitsForHealthyDependency) {
    write_compose("services:\n"
                  "  db:\n    image: busybox\n"
                  "    command: [\"sh\", \"-c\", \"sleep 1; touch /tmp/ready; sleep 600\"]\n"
                  "    healthcheck:\n      test: [\"CMD\", \"test\", \"-f\", \"/tmp/ready\"]\n"
                  "      interval: 200ms\n      retries: 30\n"
                  "  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    depends_on:\n      db:\n        condition: service_healthy\n");

    auto result = compose({"up", "-d"});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("Container demo-db-1  Healthy"), std::string::npos) << result.err;
    bool db_listed_healthy = false;
    for (const auto& object : ps_json(false)) {
        if (object.at("Service") == "db") db_listed_healthy = object.at("Health") == "healthy";
    }
    EXPECT_TRUE(db_listed_healthy);
    auto db = inspect_container(root_, "demo-db-1").at("State");
    auto web = inspect_container(root_, "demo-web-1").at("State");
    auto web_started = container::parse_rfc3339(web.at("StartedAt"));
    auto db_started = container::parse_rfc3339(db.at("StartedAt"));
    ASSERT_TRUE(web_started);
    ASSERT_TRUE(db_started);
    EXPECT_GE(*web_started - *db_started, std::chrono::seconds(1));
    // The first passing check ended before the dependent started.
    bool passed_before = false;
    for (const auto& entry : db.at("Health").at("Log")) {
        auto end = container::parse_rfc3339(entry.at("End"));
        if (entry.at("ExitCode") == 0 && end && *end <= *web_started) passed_before = true;
    }
    EXPECT_TRUE(passed_before) << db.dump();
}

TEST_F(ComposeCli, UnhealthyDependencyFailsUp) {
    write_compose("services:\n"
                  "  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    healthcheck:\n      test: exit 1\n      interval: 100ms\n      retries: 2\n"
                  "  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    depends_on:\n      db:\n        condition: service_healthy\n");

    auto result = compose({"up", "-d"});

    EXPECT_EQ(result.exit_code, 1);
    auto last_line = result.err.substr(result.err.rfind('\n', result.err.size() - 2) + 1);
    EXPECT_EQ(last_line.rfind("isolab: dependency failed to start: service db is unhealthy, so web "
                              "(depends_on: service_healthy) was not started", 0),
              0U)
        << result.err;
    EXPECT_FALSE(container::find_container(root_.paths(), "demo-web-1"));
}

TEST_F(ComposeCli, ExitedDependencyFailsUp) {
    write_compose("services:\n"
                  "  db:\n    image: busybox\n    command: [\"true\"]\n"
                  "    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1m\n"
                  "  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    depends_on:\n      db:\n        condition: service_healthy\n");

    auto result = compose({"up", "-d"});

    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("isolab: dependency failed to start: service db exited with code 0 before it became "
                              "healthy, so web (depends_on: service_healthy) was not started"),
              std::string::npos)
        << result.err;
    EXPECT_FALSE(container::find_container(root_.paths(), "demo-web-1"));
}

TEST_F(ComposeCli, DependencyWithoutHealthcheckFailsUp) {
    write_compose("services:\n"
                  "  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    depends_on:\n      db:\n        condition: service_healthy\n");

    auto result = compose({"up", "-d"});

    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("isolab: dependency failed to start: service db has no healthcheck"), std::string::npos)
        << result.err;
}

TEST_F(ComposeCli, DisableOverridesImageCheck) {
    std::ofstream(project_dir_ / "Dockerfile") << "FROM busybox\nHEALTHCHECK --interval=100ms CMD true\n";
    write_compose("services:\n"
                  "  app:\n    build: .\n    command: [\"sleep\", \"600\"]\n    healthcheck:\n      disable: true\n");

    auto result = compose({"up", "-d", "--build"});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto object = inspect_container(root_, "demo-app-1");
    EXPECT_EQ(object.at("Config").at("Healthcheck").at("Test"), json::array({"NONE"}));
    EXPECT_FALSE(object.at("State").contains("Health")) << object.at("State");
}

}  // namespace
}  // namespace isolab::testing
