// The benchmark workloads end to end: on the container path each built-in workload once,
// a custom scenario and the scale series (no VM boots: --paths container); on the VM path
// (qemu:///system under TCG) web over HTTP through a published port and io on the VM's
// disk, one boot each, and bare QEMU's record for web.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "support/vm_domain_test.hpp"
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
    auto results = compare({"--workload", "web", "--with", "qemu"});
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

// Runs compare on the VM path only, under TCG, with one run.
class CompareWorkloadsOnVm : public BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        std::string start = std::string(ISOLAB_SOURCE_DIR) + "/scripts/start-libvirtd";
        ASSERT_EQ(std::system(start.c_str()), 0) << "scripts/start-libvirtd failed";
    }

    void TearDown() override {
        if (IsSkipped()) return;
        // Every domain the runs started is gone, and so are their folders and leases.
        for (const auto& name : domains_) {
            EXPECT_FALSE(domain_exists(name)) << name << " left behind";
            destroy_domain(name);
        }
        std::error_code error;
        EXPECT_TRUE(!fs::exists(root_.paths().vms()) || fs::is_empty(root_.paths().vms(), error))
            << "VM folders left behind in " << root_.paths().vms().string();
    }

    // Runs compare with `arguments`; returns results.json and keeps stderr in err_.
    json compare(const std::vector<std::string>& arguments) {
        auto output = root_.root().parent_path() / "results-vm";
        std::vector<std::string> command = {"--log-level", "debug", "compare", "--paths", "vm", "--accel", "tcg",
                                            "--runs", "1", "--warmup", "0", "-o", output.string()};
        command.insert(command.end(), arguments.begin(), arguments.end());
        auto result = isolab(command);
        err_ = result.err;
        collect_domains(result.err);
        EXPECT_EQ(result.exit_code, 0) << tail(result.err);
        if (result.exit_code != 0) return json::object();
        auto results = json::parse(read_file(output / "results.json"));
        fs::remove_all(output);
        return results;
    }

    static const json& path_named(const json& results, const std::string& name) {
        for (const auto& path : results.at("paths")) {
            if (path.at("name") == name) return path;
        }
        throw std::runtime_error("no path " + name + " in results.json");
    }

    static double median(const json& path, const std::string& figure) {
        return path.at("figures").at(figure).at("summary").at("median").get<double>();
    }

    static std::string tail(const std::string& text) {
        return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
    }

    std::string err_;
    std::set<std::string> domains_;

private:
    // The domain names the debug log mentions.
    void collect_domains(const std::string& log) {
        static const std::regex name("isolab-bench-[0-9a-f]{12}");
        for (auto it = std::sregex_iterator(log.begin(), log.end(), name); it != std::sregex_iterator(); ++it) {
            domains_.insert(it->str());
        }
    }
};

TEST_F(CompareWorkloadsOnVm, WebReadyByHttpThroughPublishedPort) {
    auto results = compare({"--workload", "web", "--with", "qemu"});
    ASSERT_TRUE(results.contains("paths"));
    EXPECT_EQ(domains_.size(), 1U) << "expected one domain in the log";

    const auto& vm = path_named(results, "vm");
    ASSERT_TRUE(vm.at("available").get<bool>()) << vm.at("missing_reason");
    ASSERT_EQ(vm.at("runs").size(), 1U);
    EXPECT_GT(median(vm, "startup_ms"), 0);
    EXPECT_FALSE(vm.at("kernel").get<std::string>().empty());
    EXPECT_EQ(vm.at("accelerator").at("used"), "tcg");

    // The QEMU PSS, split into the guest RAM touched and QEMU's own memory.
    double pss = median(vm, "memory_pss_bytes");
    double touched = median(vm, "memory_guest_ram_touched_bytes");
    double overhead = median(vm, "memory_vmm_overhead_bytes");
    EXPECT_GT(touched, 0);
    EXPECT_GT(overhead, 0);
    EXPECT_DOUBLE_EQ(touched + overhead, pss);
    EXPECT_LE(touched, median(vm, "guest_memory_bytes"));

    const auto& qemu = path_named(results, "qemu");
    EXPECT_FALSE(qemu.at("available").get<bool>());
    EXPECT_NE(qemu.at("missing_reason").get<std::string>().find("no NIC"), std::string::npos)
        << qemu.at("missing_reason");
}

TEST_F(CompareWorkloadsOnVm, IoWritesTheVmDisk) {
    auto results = compare({"--workload", "io", "--size", "8", "--no-references"});
    ASSERT_TRUE(results.contains("paths"));
    const auto& vm = path_named(results, "vm");
    ASSERT_TRUE(vm.at("available").get<bool>()) << vm.at("missing_reason");
    EXPECT_GE(median(vm, "io_rootfs_write_ms"), 0);
    EXPECT_GE(median(vm, "io_rootfs_read_ms"), 0);
    EXPECT_FALSE(vm.at("figures").contains("io_volume_write_ms"));

    const auto& notes = vm.at("runs")[0].at("notes");
    ASSERT_EQ(notes.size(), 2U) << notes.dump();
    EXPECT_NE(notes[0].get<std::string>().find("io rootfs: wrote /var/isolab-io/isolab-io on /dev/vda"),
              std::string::npos)
        << notes.dump();
    EXPECT_NE(notes[1].get<std::string>().find("io volume: skipped"), std::string::npos) << notes.dump();
}

}  // namespace
}  // namespace isolab::testing
