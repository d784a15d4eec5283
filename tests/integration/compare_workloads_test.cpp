// The benchmark workloads end to end: on the container path each built-in workload once,
// a custom scenario and the scale series (no VM boots: --paths container); on the VM path
// (libvirt's embedded driver, --connect embedded, under TCG) web over HTTP through a
// published port and io on the VM's disk, one boot each, bare QEMU's record for web, and
// a scale point of two VMs started together (three boots).
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/network/ipam.hpp"
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
        // No QEMU process of the runs' domains is left, and neither are their folders or
        // address leases. The embedded driver has no daemon to ask, so /proc is read.
        for (const auto& name : domains_) {
            EXPECT_FALSE(qemu_running(name)) << "the QEMU process of " << name << " was left behind";
        }
        std::error_code error;
        EXPECT_TRUE(!fs::exists(root_.paths().vms()) || fs::is_empty(root_.paths().vms(), error))
            << "VM folders left behind in " << root_.paths().vms().string();
        auto ipam = network::ipam_directory(root_.paths()) / "ipam.json";
        if (fs::exists(ipam)) {
            for (const auto& [network_name, network] : json::parse(read_file(ipam)).at("networks").items()) {
                EXPECT_TRUE(network.value("leases", json::object()).empty()) << "leases left on " << network_name;
            }
        }
    }

    // True when a QEMU process runs the domain `name` ("-name guest=NAME," on its command line).
    static bool qemu_running(const std::string& name) {
        std::string wanted = "guest=" + name + ",";
        for (const auto& entry : fs::directory_iterator("/proc")) {
            std::string command_line;
            try {
                command_line = read_file(entry.path() / "cmdline");
            } catch (const std::exception&) {
                continue;  // not a process, or it ended meanwhile
            }
            if (command_line.find(wanted) != std::string::npos) return true;
        }
        return false;
    }

    // Runs compare with `arguments`; returns results.json and keeps stderr in err_.
    json compare(const std::vector<std::string>& arguments) {
        auto output = root_.root().parent_path() / "results-vm";
        std::vector<std::string> command = {"--log-level", "debug", "compare", "--paths", "vm", "--accel", "tcg",
                                            "--connect", "embedded", "--runs", "1", "--warmup", "0",
                                            "-o", output.string()};
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
    // The results name the libvirt driver, here the embedded one.
    auto embedded_uri = "qemu:///embed?root=" + (root_.root() / "libvirt-embedded").string();
    EXPECT_EQ(results.at("settings").at("connect_uri"), embedded_uri);
    EXPECT_NE(vm.at("runtime").get<std::string>().find("embedded QEMU driver"), std::string::npos) << vm.at("runtime");
    // Startup by phase, ready (HTTP 200 through the published port) among them.
    std::set<std::string> phase_names;
    for (const auto& phase : vm.at("runs")[0].at("phases")) phase_names.insert(phase.at("name").get<std::string>());
    for (const char* name : {"define", "qemu-up", "kernel-start", "init-start", "workload-start", "ready"}) {
        EXPECT_TRUE(phase_names.count(name)) << "no phase " << name;
    }

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
    // The disk form's files: the image's qcow2 base and the VM's overlay, which contains
    // the 8 MiB the workload wrote.
    EXPECT_GT(median(vm, "disk_base_bytes"), 0);
    EXPECT_GE(median(vm, "disk_overlay_bytes"), 8 * mebibyte);
    EXPECT_GE(median(vm, "disk_bytes"), median(vm, "disk_base_bytes") + median(vm, "disk_overlay_bytes"));

    const auto& notes = vm.at("runs")[0].at("notes");
    ASSERT_EQ(notes.size(), 2U) << notes.dump();
    EXPECT_NE(notes[0].get<std::string>().find("io rootfs: wrote /var/isolab-io/isolab-io on /dev/vda"),
              std::string::npos)
        << notes.dump();
    EXPECT_NE(notes[1].get<std::string>().find("io volume: skipped"), std::string::npos) << notes.dump();
}

// Two VMs started together both meet the readiness rule: a scenario whose only scale point
// is N=2, with a log line as readiness and no NIC, the cheapest VM there is.
TEST_F(CompareWorkloadsOnVm, ScalePointOfTwoVms) {
    auto scenario = root_.root().parent_path() / "vm-scale-scenario.yaml";
    write_file_atomic(scenario,
                      "name: vm-pair\n"
                      "image: busybox\n"
                      "command: [/bin/sh, -c, \"echo vm-pair-ready\"]\n"
                      "readiness:\n"
                      "  log: vm-pair-ready\n"
                      "repetitions: 1\n"
                      "instances: [2]\n");
    auto results = compare({"--scenario", scenario.string(), "--no-references"});
    fs::remove(scenario);
    ASSERT_TRUE(results.contains("scale"));
    EXPECT_EQ(domains_.size(), 3U) << "expected one run and two scale instances in the log";

    const auto& series = results.at("scale").at("series");
    ASSERT_EQ(series.size(), 1U);
    EXPECT_EQ(series[0].at("path"), "vm");
    const auto& points = series[0].at("points");
    ASSERT_EQ(points.size(), 1U);
    const auto& point = points[0];
    EXPECT_EQ(point.at("instances"), 2);
    ASSERT_TRUE(point.at("available").get<bool>()) << point.value("missing_reason", "");
    const auto& figures = point.at("figures");
    EXPECT_GT(figures.at("all_ready_ms").get<double>(), 0);
    // Two QEMU processes; the kernel is shared, each VM has an initramfs of its own.
    const auto& vm = path_named(results, "vm");
    EXPECT_GT(figures.at("memory_total_bytes").get<double>(), median(vm, "memory_pss_bytes"));
    EXPECT_DOUBLE_EQ(figures.at("disk_total_bytes").get<double>(),
                     median(vm, "disk_bytes") + median(vm, "disk_initramfs_bytes"));
}

}  // namespace
}  // namespace isolab::testing
