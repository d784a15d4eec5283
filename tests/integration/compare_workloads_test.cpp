// The benchmark workloads end to end on the container path: each built-in workload once,
// a custom scenario, the scale series and the VM path's record for web. No VM boots:
// these runs pass --paths container, and web's VM path is rejected before it starts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double mebibyte = 1024.0 * 1024.0;

class CompareWorkloads : public BusyboxCliTest {
protected:
    // Runs compare with `arguments` once on the container path; returns results.json.
    json compare(const std::vector<std::string>& arguments) {
        auto output = root_.root().parent_path() / ("results-" + std::to_string(++count_));
        std::vector<std::string> command = {"compare", "--paths", "container", "--no-references", "--runs", "1",
                                            "--warmup", "0", "-o", output.string()};
        command.insert(command.end(), arguments.begin(), arguments.end());
        auto result = isolab(command);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        if (result.exit_code != 0) return json::object();
        markdown_ = read_file(output / "report.md");
        html_ = read_file(output / "report.html");
        auto results = json::parse(read_file(output / "results.json"));
        fs::remove_all(output);
        return results;
    }

    void TearDown() override {
        if (IsSkipped()) return;
        EXPECT_TRUE(no_containers());
        auto volumes = isolab({"volume", "ls", "-q"});
        EXPECT_EQ(volumes.out, "") << "volumes left behind";
        EXPECT_EQ(read_file("/proc/self/mountinfo").find(root_.root().string()), std::string::npos)
            << "mounts left behind";
    }

    static const json& container_path(const json& results) {
        for (const auto& path : results.at("paths")) {
            if (path.at("name") == "container") return path;
        }
        throw std::runtime_error("no container path in results.json");
    }

    static double median(const json& results, const std::string& figure) {
        return container_path(results).at("figures").at(figure).at("summary").at("median").get<double>();
    }

    std::string markdown_;
    std::string html_;
    int count_ = 0;
};

TEST_F(CompareWorkloads, WebIsReadyByHttp) {
    auto results = compare({"--workload", "web"});
    ASSERT_TRUE(results.contains("paths"));
    EXPECT_NE(results.at("settings").at("readiness").get<std::string>().find("HTTP 200"), std::string::npos);
    EXPECT_GT(median(results, "startup_ms"), 0);
    EXPECT_LT(median(results, "startup_ms"), 120000);
    EXPECT_GT(median(results, "memory_working_set_bytes"), 0);
    EXPECT_GT(median(results, "memory_pss_bytes"), 0);
    EXPECT_EQ(results.at("settings").at("image"), "isolab-bench-web:latest");
}

TEST_F(CompareWorkloads, CpuReportsItsRunTime) {
    auto results = compare({"--workload", "cpu"});
    ASSERT_TRUE(results.contains("paths"));
    // SHA-256 of 128 MiB takes well over 10 ms (the uptime resolution) and under a minute.
    EXPECT_GE(median(results, "cpu_run_ms"), 10);
    EXPECT_LT(median(results, "cpu_run_ms"), 60000);
}

TEST_F(CompareWorkloads, MemHoldsItsSize) {
    auto results = compare({"--workload", "mem", "--size", "32"});
    ASSERT_TRUE(results.contains("paths"));
    EXPECT_GE(median(results, "memory_working_set_bytes"), 32 * mebibyte);
    EXPECT_GE(median(results, "memory_pss_bytes"), 32 * mebibyte);
    EXPECT_GE(median(results, "memory_peak_bytes"), 32 * mebibyte);
    EXPECT_LT(median(results, "memory_working_set_bytes"), 256 * mebibyte);
}

TEST_F(CompareWorkloads, IoWritesRootfsAndVolume) {
    auto results = compare({"--workload", "io", "--size", "16"});
    ASSERT_TRUE(results.contains("paths"));
    for (const char* figure : {"io_rootfs_write_ms", "io_rootfs_read_ms", "io_volume_write_ms", "io_volume_read_ms"}) {
        EXPECT_GE(median(results, figure), 0) << figure;
        EXPECT_LT(median(results, figure), 60000) << figure;
    }
    // The rootfs file stays in the upper dir until the container is removed.
    EXPECT_GE(median(results, "disk_upper_bytes"), 16 * mebibyte);
}

TEST_F(CompareWorkloads, WebOnVmIsRecordedUnavailable) {
    auto output = root_.root().parent_path() / "results-vm";
    auto result = isolab({"compare", "--workload", "web", "--no-references", "--runs", "1", "--warmup", "0",
                          "--connect", "test:///default", "-o", output.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto results = json::parse(read_file(output / "results.json"));
    fs::remove_all(output);
    bool found = false;
    for (const auto& path : results.at("paths")) {
        if (path.at("name") != "vm") continue;
        found = true;
        EXPECT_FALSE(path.at("available").get<bool>());
        EXPECT_EQ(path.at("missing_reason"), "not available: VM networking missing");
        EXPECT_TRUE(path.at("runs").empty());
    }
    EXPECT_TRUE(found);
}

// Two web containers start on two threads of one process: neither first process may keep
// the other thread's pipes or locks open until exec.
TEST_F(CompareWorkloads, ScaleUpToTwo) {
    auto results = compare({"--workload", "web", "--scale-max", "2"});
    ASSERT_TRUE(results.contains("scale"));
    const auto& series = results.at("scale").at("series");
    ASSERT_EQ(series.size(), 1U);
    EXPECT_EQ(series[0].at("path"), "container");
    const auto& points = series[0].at("points");
    ASSERT_EQ(points.size(), 2U);
    double previous_disk = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& point = points[i];
        EXPECT_EQ(point.at("instances"), static_cast<int>(i + 1));
        ASSERT_TRUE(point.at("available").get<bool>()) << point.at("missing_reason");
        EXPECT_GT(point.at("figures").at("all_ready_ms").get<double>(), 0);
        EXPECT_GT(point.at("figures").at("memory_total_bytes").get<double>(), 0);
        auto disk = point.at("figures").at("disk_total_bytes").get<double>();
        EXPECT_GE(disk, previous_disk);
        previous_disk = disk;
    }
    EXPECT_NE(markdown_.find("## Scale"), std::string::npos);
    EXPECT_NE(html_.find("chart-scale-all_ready_ms"), std::string::npos);
    EXPECT_NE(html_.find("<polyline"), std::string::npos);
}

TEST_F(CompareWorkloads, ScenarioWithTcpReadiness) {
    auto scenario = root_.root().parent_path() / "tcp-scenario.yaml";
    write_file_atomic(scenario,
                      "name: tcp-server\n"
                      "image: busybox\n"
                      "command: [/bin/sh, -c, \"uname -r; exec httpd -f -p 8080 -h /\"]\n"
                      "readiness:\n"
                      "  tcp: 8080\n"
                      "repetitions: 1\n"
                      "instances: [1]\n");
    auto results = compare({"--scenario", scenario.string()});
    fs::remove(scenario);
    ASSERT_TRUE(results.contains("paths"));
    EXPECT_EQ(results.at("settings").at("workload"), "tcp-server");
    // One instance only: two hit the same deadlock as ScaleUpToTwo.
    EXPECT_EQ(results.at("settings").at("scenario_file"), scenario.string());
    EXPECT_GT(median(results, "startup_ms"), 0);
    EXPECT_EQ(container_path(results).at("kernel").get<std::string>().empty(), false);
    ASSERT_EQ(results.at("scale").at("series").size(), 1U);
    EXPECT_EQ(results.at("scale").at("series")[0].at("points").size(), 1U);
}

TEST_F(CompareWorkloads, ScenarioWithLogReadiness) {
    auto scenario = root_.root().parent_path() / "log-scenario.json";
    write_file_atomic(scenario, R"({"image": "busybox", "command": "echo starting; sleep 0.2; echo listening now",
                                   "readiness": {"log": "listening"}})");
    auto results = compare({"--scenario", scenario.string()});
    fs::remove(scenario);
    ASSERT_TRUE(results.contains("paths"));
    EXPECT_EQ(results.at("settings").at("workload"), "log-scenario");
    EXPECT_GE(median(results, "startup_ms"), 200);
}

TEST_F(CompareWorkloads, InvalidScenarioNamesFileAndKey) {
    auto scenario = root_.root().parent_path() / "bad-scenario.yaml";
    write_file_atomic(scenario, "image: busybox\ncommand: [true]\nreadiness:\n  http:\n    port: 99999\n");
    auto result = isolab({"compare", "--paths", "container", "--no-references", "--scenario", scenario.string()});
    fs::remove(scenario);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find(scenario.string() + ":5: key 'readiness.http.port'"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace isolab::testing
