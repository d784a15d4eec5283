// `isolab top` and `isolab stats` on a running container, reading the host's real
// cgroups, v1 or v2 as the host mounts them. Needs root.
#include <gtest/gtest.h>

#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "integration/running_container.hpp"
#include "runtime/container/stats.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

class ContainerStatsCli : public BusyboxCliTest {};

std::vector<std::string> lines_of(const std::string& text) {
    std::istringstream stream(text);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(stream, line)) lines.push_back(line);
    return lines;
}

TEST_F(ContainerStatsCli, TopListsContainerProcesses) {
    RunningContainer container(root_.paths(), "top-me");
    ASSERT_TRUE(container.started());

    auto result = isolab({"top", "top-me"});
    auto lines = lines_of(result.out);

    EXPECT_EQ(result.exit_code, 0) << result.err;
    ASSERT_EQ(lines.size(), 3u) << result.out;   // header, isolab-init, sleep
    std::istringstream header(lines[0]);
    std::vector<std::string> columns{std::istream_iterator<std::string>(header), std::istream_iterator<std::string>()};
    EXPECT_EQ(columns, (std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}));
    EXPECT_NE(lines[1].find(" " + std::to_string(container.pid()) + " "), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("sleep 60"), std::string::npos) << result.out;
}

TEST_F(ContainerStatsCli, TopPassesPsOptions) {
    RunningContainer container(root_.paths(), "top-options");
    ASSERT_TRUE(container.started());

    auto result = isolab({"top", "top-options", "-o", "pid,comm"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(lines_of(result.out).size(), 3u) << result.out;
    EXPECT_NE(result.out.find("sleep"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("sleep 60"), std::string::npos) << "comm has no arguments: " << result.out;
}

TEST_F(ContainerStatsCli, TopOfStoppedContainerFails) {
    auto finished = isolab({"run", "--name", "top-done", "busybox", "true"});
    auto result = isolab({"top", "top-done"});

    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "isolab: container top-done is not running (start it with 'isolab start'; list running ones with 'isolab ps')\n");
}

TEST_F(ContainerStatsCli, StatsShowsMemoryLimitAndPids) {
    // The workload keeps 8 MiB in a tmpfs file: shmem counts as memory usage, not as
    // inactive file cache.
    RunningContainer container(root_.paths(), "stats-me", {"-m", "64m"},
                               {"sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null; sleep 60; true"});
    ASSERT_TRUE(container.started());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    auto rows = container::sample_stats(root_.paths(), {"stats-me"}, 200);
    auto printed = isolab({"stats", "--no-stream", "stats-me"});

    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].memory_limit, 64u << 20);
    EXPECT_GE(rows[0].memory_bytes, 8u << 20);
    EXPECT_LT(rows[0].memory_bytes, 64u << 20);
    EXPECT_EQ(rows[0].pids, 3u) << "isolab-init, sh and sleep";
    EXPECT_GE(rows[0].cpu_percent, 0.0);
    EXPECT_EQ(printed.exit_code, 0) << printed.err;
    auto lines = lines_of(printed.out);
    ASSERT_EQ(lines.size(), 2u) << printed.out;
    EXPECT_EQ(lines[0], "CONTAINER ID  NAME                      CPU %    MEM USAGE / LIMIT      MEM %    PIDS");
    EXPECT_EQ(lines[1].substr(0, 12), container.id().substr(0, 12));
    EXPECT_NE(lines[1].find("stats-me"), std::string::npos);
    EXPECT_NE(lines[1].find(" / 64MiB"), std::string::npos) << lines[1];
}

TEST_F(ContainerStatsCli, StatsMeasuresBusyCpu) {
    RunningContainer container(root_.paths(), "stats-busy", {}, {"sh", "-c", "while :; do :; done"});
    ASSERT_TRUE(container.started());

    auto rows = container::sample_stats(root_.paths(), {"stats-busy"}, 1000);

    ASSERT_EQ(rows.size(), 1u);
    // One busy loop takes at most one CPU; on a loaded host it gets less.
    EXPECT_GT(rows[0].cpu_percent, 10.0);
    EXPECT_LT(rows[0].cpu_percent, 105.0);
}

TEST_F(ContainerStatsCli, StatsWithoutNamesListsRunning) {
    RunningContainer first(root_.paths(), "stats-one");
    RunningContainer second(root_.paths(), "stats-two");
    ASSERT_TRUE(first.started());
    ASSERT_TRUE(second.started());

    auto rows = container::sample_stats(root_.paths(), {}, 100);

    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].name, "stats-one");
    EXPECT_EQ(rows[1].name, "stats-two");
}

}  // namespace
}  // namespace isolab::testing
