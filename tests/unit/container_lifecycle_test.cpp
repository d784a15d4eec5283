// Pure parts of the container lifecycle: restart policies, signal names, Docker's
// durations and statuses, RFC 3339 times and json-file log lines.
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <gtest/gtest.h>

#include "runtime/container/lifecycle.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/restart_policy.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {
namespace {

using namespace std::chrono_literals;
using Kind = RestartPolicy::Kind;

TEST(RestartPolicyParse, Names) {
    EXPECT_EQ(parse_restart_policy("no").kind, Kind::no);
    EXPECT_EQ(parse_restart_policy("always").kind, Kind::always);
    EXPECT_EQ(parse_restart_policy("unless-stopped").kind, Kind::unless_stopped);
    EXPECT_EQ(parse_restart_policy("on-failure").kind, Kind::on_failure);
    EXPECT_EQ(parse_restart_policy("on-failure").maximum_retries, 0);
    EXPECT_EQ(parse_restart_policy("on-failure:3").maximum_retries, 3);
}

TEST(RestartPolicyParse, InvalidRejected) {
    for (const char* text : {"sometimes", "on-failure:", "on-failure:x", "on-failure:-1", "on-failure3", "always:2"}) {
        EXPECT_THROW(parse_restart_policy(text), Error) << text;
    }
}

TEST(RestartPolicyDecision, OnFailureCountsRetries) {
    auto policy = parse_restart_policy("on-failure:2");
    EXPECT_FALSE(should_restart(policy, 0, 0, false));
    EXPECT_TRUE(should_restart(policy, 1, 0, false));
    EXPECT_TRUE(should_restart(policy, 1, 1, false));
    EXPECT_FALSE(should_restart(policy, 1, 2, false));
}

TEST(RestartPolicyDecision, ManualStopEndsAlways) {
    auto policy = parse_restart_policy("always");
    EXPECT_TRUE(should_restart(policy, 0, 100, false));
    EXPECT_FALSE(should_restart(policy, 0, 0, true));
    EXPECT_FALSE(should_restart(parse_restart_policy("no"), 1, 0, false));
}

TEST(RestartPolicyDelay, DoublesUpToOneMinute) {
    EXPECT_EQ(restart_delay(0), 100ms);
    EXPECT_EQ(restart_delay(1), 200ms);
    EXPECT_EQ(restart_delay(3), 800ms);
    EXPECT_EQ(restart_delay(40), 60000ms);
}

TEST(SignalParse, NamesAndNumbers) {
    EXPECT_EQ(parse_signal("SIGINT"), SIGINT);
    EXPECT_EQ(parse_signal("int"), SIGINT);
    EXPECT_EQ(parse_signal("TERM"), SIGTERM);
    EXPECT_EQ(parse_signal("9"), SIGKILL);
}

TEST(SignalParse, InvalidRejected) {
    for (const char* text : {"", "SIGNOPE", "0", "999", "9x"}) EXPECT_THROW(parse_signal(text), Error) << text;
}

TEST(HumanDuration, DockerWording) {
    EXPECT_EQ(human_duration(500ms), "Less than a second");
    EXPECT_EQ(human_duration(1s), "1 second");
    EXPECT_EQ(human_duration(59s), "59 seconds");
    EXPECT_EQ(human_duration(90s), "About a minute");
    EXPECT_EQ(human_duration(5min), "5 minutes");
    EXPECT_EQ(human_duration(70min), "About an hour");
    EXPECT_EQ(human_duration(3h), "3 hours");
    EXPECT_EQ(human_duration(72h), "3 days");
    EXPECT_EQ(human_duration(24h * 21), "3 weeks");
    EXPECT_EQ(human_duration(24h * 120), "4 months");
    EXPECT_EQ(human_duration(24h * 365 * 3), "3 years");
}

TEST(Rfc3339, ParsesOwnFormat) {
    auto parsed = parse_rfc3339("2024-05-01T12:00:03.250000000Z");
    ASSERT_TRUE(parsed.has_value());
    auto expected = std::chrono::sys_days(std::chrono::year(2024) / 5 / 1) + 12h + 3s + 250ms;
    EXPECT_EQ(*parsed, expected);
    EXPECT_FALSE(parse_rfc3339("").has_value());
    EXPECT_FALSE(parse_rfc3339("2024-05-01 12:00:00").has_value());
}

TEST(Rfc3339, RoundTripsNow) {
    auto now = std::chrono::system_clock::now();
    auto parsed = parse_rfc3339(rfc3339_now());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_LT(std::chrono::abs(*parsed - now), 5s);
}

StoredContainer container_with(const std::string& status, std::optional<int> exit_code, const std::string& finished) {
    StoredContainer container;
    container.state.status = status;
    container.state.exit_code = exit_code;
    container.state.finished_at = finished;
    return container;
}

TEST(PsStatus, ExitedAndCreated) {
    auto finished = parse_rfc3339("2024-05-01T12:00:00Z");
    ASSERT_TRUE(finished.has_value());
    EXPECT_EQ(status_text(container_with("exited", 0, "2024-05-01T12:00:00Z"), *finished + 2s), "Exited (0) 2 seconds ago");
    EXPECT_EQ(status_text(container_with("created", std::nullopt, ""), *finished), "Created");
}

TEST(PsStatus, UpAndRestarting) {
    // This test process is the live first process and the live monitor.
    auto started = parse_rfc3339("2024-05-01T12:00:00Z");
    ASSERT_TRUE(started.has_value());
    auto running = container_with("running", std::nullopt, "");
    running.state.pid = getpid();
    running.state.started_at = "2024-05-01T12:00:00Z";
    EXPECT_EQ(status_text(running, *started + 5s), "Up 5 seconds");

    auto restarting = container_with("restarting", 1, "2024-05-01T12:00:00Z");
    restarting.state.monitor_pid = getpid();
    EXPECT_EQ(status_text(restarting, *started + 3s), "Restarting (1) 3 seconds ago");
}

TEST(PsStatus, DeadOwnerShowsExited255) {
    // Recorded as running, but neither the first process nor the owner exists.
    auto container = container_with("running", std::nullopt, "");
    container.state.pid = 0;
    auto state = observed_state(container);
    EXPECT_EQ(state.status, "exited");
    EXPECT_EQ(state.exit_code, 255);
}

TEST(LogEntry, RoundTripKeepsStream) {
    LogEntry entry{"a \"quoted\" line", true, "2024-05-01T12:00:00.000000001Z"};
    auto line = format_log_entry(entry);
    EXPECT_EQ(line, "{\"log\":\"a \\\"quoted\\\" line\\n\",\"stream\":\"stderr\",\"time\":\"2024-05-01T12:00:00.000000001Z\"}\n");
    auto parsed = parse_log_entry(line.substr(0, line.size() - 1));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->text, entry.text);
    EXPECT_TRUE(parsed->is_stderr);
    EXPECT_EQ(parsed->time, entry.time);
}

TEST(LogEntry, GarbageIgnored) { EXPECT_FALSE(parse_log_entry("not json").has_value()); }

}  // namespace
}  // namespace isolab::container
