#include <gtest/gtest.h>

#include "bench/workload.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {
namespace {

TEST(BenchWorkload, HelloMatchesContract) {
    auto workload = find_workload("hello");
    EXPECT_EQ(workload.image, "busybox");
    ASSERT_EQ(workload.command.size(), 3U);
    EXPECT_EQ(workload.command[0], "/bin/sh");
    EXPECT_EQ(workload.command[1], "-c");
    EXPECT_EQ(workload.command[2], "read up rest </proc/uptime; echo \"isolab-ready uptime=$up\"; uname -r");
    EXPECT_TRUE(workload.is_ready_line("isolab-ready uptime=0.52"));
    EXPECT_FALSE(workload.is_ready_line(" isolab-ready"));
}

TEST(BenchWorkload, UnknownNameListsKnown) {
    try {
        find_workload("nginx");
        FAIL() << "expected Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("nginx"), std::string::npos);
        EXPECT_NE(error.hint().find("hello"), std::string::npos);
    }
}

TEST(BenchWorkload, ParsesReadyUptime) {
    auto uptime = parse_ready_uptime_ms("isolab-ready uptime=1.25");
    ASSERT_TRUE(uptime.has_value());
    EXPECT_DOUBLE_EQ(*uptime, 1250);
    EXPECT_FALSE(parse_ready_uptime_ms("isolab-ready").has_value());
    EXPECT_FALSE(parse_ready_uptime_ms("isolab-ready uptime=").has_value());
    EXPECT_FALSE(parse_ready_uptime_ms("isolab-ready uptime=1.2x").has_value());
}

TEST(BenchReadiness, KeepsReadyTimeAndKernel) {
    ReadinessWatcher watcher(find_workload("hello"));
    auto origin = Clock::now();
    watcher.on_line("isolab-init: phase workload-start uptime_ms=310", origin);
    watcher.on_line("[    0.3] random kernel line", origin + std::chrono::milliseconds(1));
    watcher.on_line("isolab-ready uptime=0.32\r", origin + std::chrono::milliseconds(5));
    watcher.on_line("6.1.0-57-amd64\r", origin + std::chrono::milliseconds(6));
    watcher.on_line("isolab-ready uptime=9.99", origin + std::chrono::milliseconds(9));
    watcher.on_line("isolab-init: exit code=0 uptime_ms=330", origin + std::chrono::milliseconds(10));

    ASSERT_TRUE(watcher.ready_at().has_value());
    EXPECT_EQ(*watcher.ready_at(), origin + std::chrono::milliseconds(5));
    ASSERT_TRUE(watcher.ready_uptime_ms().has_value());
    EXPECT_DOUBLE_EQ(*watcher.ready_uptime_ms(), 320);
    EXPECT_EQ(watcher.kernel_release(), "6.1.0-57-amd64");
    // Guest init lines are not the workload's output.
    EXPECT_EQ(watcher.lines().size(), 4U);
}

TEST(BenchReadiness, KeepsNotesApart) {
    ReadinessWatcher watcher(find_workload("io"));
    auto origin = Clock::now();
    watcher.on_line("isolab-ready uptime=1.50", origin);
    watcher.on_line("6.1.0-57-amd64", origin);
    watcher.on_line("isolab-note io rootfs: wrote /var/isolab-io/isolab-io on /dev/vda (ext4) mounted on /\r", origin);
    watcher.on_line("isolab-note io volume: skipped, /isolab-volume does not exist", origin);

    ASSERT_EQ(watcher.notes().size(), 2U);
    EXPECT_EQ(watcher.notes()[0], "io rootfs: wrote /var/isolab-io/isolab-io on /dev/vda (ext4) mounted on /");
    EXPECT_EQ(watcher.notes()[1], "io volume: skipped, /isolab-volume does not exist");
    EXPECT_EQ(watcher.kernel_release(), "6.1.0-57-amd64");
}

TEST(BenchReadiness, NeverReady) {
    ReadinessWatcher watcher(find_workload("hello"));
    watcher.on_line("sh: not found", Clock::now());
    EXPECT_FALSE(watcher.ready_at().has_value());
    EXPECT_EQ(watcher.kernel_release(), "");
}

}  // namespace
}  // namespace isolab::bench
