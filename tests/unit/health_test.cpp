// Health check settings and rules: Go durations, the `run --health-*` options, merging
// with the image's HEALTHCHECK, the check's argv, the schedule and the status after
// each result, following Docker's daemon.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/health.hpp"
#include "runtime/core/duration.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

HealthResult result_with(int exit_code) {
    HealthResult result;
    result.exit_code = exit_code;
    result.output = "exit " + std::to_string(exit_code);
    return result;
}

TEST(Duration, ParsesGoForms) {
    EXPECT_EQ(parse_duration("0"), 0);
    EXPECT_EQ(parse_duration("200ms"), 200'000'000LL);
    EXPECT_EQ(parse_duration("1m30s"), 90'000'000'000LL);
    EXPECT_EQ(parse_duration("1.5h"), 5'400'000'000'000LL);
    EXPECT_EQ(parse_duration(".5s"), 500'000'000LL);
    EXPECT_EQ(parse_duration("1h2m3s4ms5us6ns"), 3'723'004'005'006LL);
    EXPECT_EQ(parse_duration("3\xC2\xB5s"), 3'000LL);
    EXPECT_EQ(parse_duration("-1s"), -1'000'000'000LL);
    EXPECT_EQ(parse_duration("+2s"), 2'000'000'000LL);
}

TEST(Duration, RejectsMalformedText) {
    EXPECT_EQ(error_of([] { parse_duration("10"); }), "invalid duration '10': the unit is missing (ns, us, ms, s, m or h)");
    EXPECT_EQ(error_of([] { parse_duration("1d"); }), "invalid duration '1d': unknown unit 'd' (use ns, us, ms, s, m or h)");
    EXPECT_EQ(error_of([] { parse_duration(""); }), "invalid duration '': it is empty");
    EXPECT_EQ(error_of([] { parse_duration("s"); }), "invalid duration 's': a number is missing");
    EXPECT_EQ(error_of([] { parse_duration("."); }), "invalid duration '.': a number is missing");
    EXPECT_EQ(error_of([] { parse_duration("3000000h"); }), "invalid duration '3000000h': it is too long");
}

TEST(Duration, FormatsAsGoPrints) {
    EXPECT_EQ(format_duration(0), "0s");
    EXPECT_EQ(format_duration(999), "999ns");
    EXPECT_EQ(format_duration(1'500), "1.5\xC2\xB5s");
    EXPECT_EQ(format_duration(200'000'000), "200ms");
    EXPECT_EQ(format_duration(1'500'000'000), "1.5s");
    EXPECT_EQ(format_duration(90'000'000'000), "1m30s");
    EXPECT_EQ(format_duration(3'600'000'000'000), "1h0m0s");
    EXPECT_EQ(format_duration(-2'000'000'000), "-2s");
}

TEST(HealthOptions, NoneGivenKeepsImage) { EXPECT_FALSE(healthcheck_from_options({})); }

TEST(HealthOptions, CommandAndDurations) {
    HealthOptions options;
    options.command = "wget -q localhost || exit 1";
    options.interval = "200ms";
    options.timeout = "1s";
    options.start_period = "2s";
    options.start_interval = "100ms";
    options.retries = 2;

    auto healthcheck = healthcheck_from_options(options);

    ASSERT_TRUE(healthcheck);
    EXPECT_EQ(healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "wget -q localhost || exit 1"}));
    EXPECT_EQ(healthcheck->interval, 200'000'000LL);
    EXPECT_EQ(healthcheck->timeout, 1'000'000'000LL);
    EXPECT_EQ(healthcheck->start_period, 2'000'000'000LL);
    EXPECT_EQ(healthcheck->start_interval, 100'000'000LL);
    EXPECT_EQ(healthcheck->retries, 2);
}

TEST(HealthOptions, IntervalAloneLeavesTestEmpty) {
    HealthOptions options;
    options.interval = "1s";

    auto healthcheck = healthcheck_from_options(options);

    ASSERT_TRUE(healthcheck);
    EXPECT_TRUE(healthcheck->test.empty());
}

TEST(HealthOptions, NoHealthcheckIsNone) {
    HealthOptions options;
    options.disabled = true;

    auto healthcheck = healthcheck_from_options(options);

    ASSERT_TRUE(healthcheck);
    EXPECT_EQ(healthcheck->test, std::vector<std::string>{"NONE"});
    EXPECT_FALSE(healthcheck_enabled(healthcheck));
}

TEST(HealthOptions, InvalidValuesRejected) {
    HealthOptions below_minimum;
    below_minimum.interval = "500us";
    EXPECT_EQ(error_of([&] { healthcheck_from_options(below_minimum); }),
              "invalid --health-interval '500us': it must be 0 or at least 1ms");

    HealthOptions negative_timeout;
    negative_timeout.timeout = "-1s";
    EXPECT_EQ(error_of([&] { healthcheck_from_options(negative_timeout); }),
              "invalid --health-timeout '-1s': it must be 0 or at least 1ms");

    HealthOptions negative_retries;
    negative_retries.retries = -1;
    EXPECT_EQ(error_of([&] { healthcheck_from_options(negative_retries); }),
              "invalid --health-retries -1: it cannot be negative");

    HealthOptions conflicting;
    conflicting.disabled = true;
    conflicting.command = "true";
    EXPECT_EQ(error_of([&] { healthcheck_from_options(conflicting); }), "--no-healthcheck conflicts with --health-* options");
}

TEST(HealthMerge, RequestFieldsOverrideImage) {
    image::Healthcheck from_image{{"CMD", "/bin/check"}, 30'000'000'000, 5'000'000'000, 0, 0, 4};
    image::Healthcheck requested;
    requested.interval = 200'000'000;

    auto merged = merge_healthcheck(from_image, requested);

    ASSERT_TRUE(merged);
    EXPECT_EQ(merged->test, (std::vector<std::string>{"CMD", "/bin/check"}));
    EXPECT_EQ(merged->interval, 200'000'000LL);
    EXPECT_EQ(merged->timeout, 5'000'000'000LL);
    EXPECT_EQ(merged->retries, 4);
}

TEST(HealthMerge, NoneDisablesImageCheck) {
    image::Healthcheck from_image{{"CMD", "/bin/check"}};
    auto merged = merge_healthcheck(from_image, image::Healthcheck{{"NONE"}});

    EXPECT_FALSE(healthcheck_enabled(merged));
    EXPECT_FALSE(healthcheck_enabled(merge_healthcheck(std::nullopt, std::nullopt)));
    EXPECT_TRUE(healthcheck_enabled(merge_healthcheck(from_image, std::nullopt)));
}

TEST(HealthProbe, ArgvOfEachForm) {
    EXPECT_EQ(health_probe_argv({{"CMD", "cat", "/ready"}}, {}), (std::vector<std::string>{"cat", "/ready"}));
    EXPECT_EQ(health_probe_argv({{"CMD-SHELL", "test -f /ready"}}, {}),
              (std::vector<std::string>{"/bin/sh", "-c", "test -f /ready"}));
    EXPECT_EQ(health_probe_argv({{"CMD-SHELL", "x"}}, {"/bin/ash", "-ec"}), (std::vector<std::string>{"/bin/ash", "-ec", "x"}));
    EXPECT_THROW(health_probe_argv({{"CMD"}}, {}), Error);
}

TEST(HealthSchedule, DefaultsForZeroValues) {
    auto schedule = health_schedule(image::Healthcheck{{"CMD", "true"}});

    EXPECT_EQ(schedule.interval, 30s);
    EXPECT_EQ(schedule.timeout, 30s);
    EXPECT_EQ(schedule.start_period, 0s);
    EXPECT_EQ(schedule.start_interval, 5s);
    EXPECT_EQ(schedule.retries, 3);
}

TEST(HealthSchedule, StartIntervalOnlyWhileStarting) {
    HealthSchedule schedule;
    schedule.interval = 10s;
    schedule.start_interval = 1s;
    schedule.start_period = 60s;
    Health health;

    EXPECT_EQ(next_check_delay(schedule, health, 5s), 1s);
    EXPECT_EQ(next_check_delay(schedule, health, 61s), 10s);
    health.status = "healthy";
    EXPECT_EQ(next_check_delay(schedule, health, 5s), 10s);
}

TEST(HealthSchedule, CheckWhenStartPeriodEnds) {
    HealthSchedule schedule;
    schedule.interval = 10s;
    schedule.start_period = 60s;
    Health health;
    health.status = "healthy";

    EXPECT_EQ(next_check_delay(schedule, health, 57s), 3s);
}

TEST(HealthResults, PassMakesHealthy) {
    Health health;
    health.failing_streak = 2;

    apply_health_result(health, result_with(0), 3, false);

    EXPECT_EQ(health.status, "healthy");
    EXPECT_EQ(health.failing_streak, 0);
    ASSERT_EQ(health.log.size(), 1U);
    EXPECT_EQ(health.log[0].output, "exit 0");
}

TEST(HealthResults, RetriesFailuresMakeUnhealthy) {
    Health health;

    apply_health_result(health, result_with(1), 2, false);
    EXPECT_EQ(health.status, "starting");
    EXPECT_EQ(health.failing_streak, 1);
    apply_health_result(health, result_with(-1), 2, false);
    EXPECT_EQ(health.status, "unhealthy");
    EXPECT_EQ(health.failing_streak, 2);
}

TEST(HealthResults, StartPeriodFailuresNotCounted) {
    Health health;
    apply_health_result(health, result_with(1), 1, true);
    EXPECT_EQ(health.status, "starting");
    EXPECT_EQ(health.failing_streak, 0);

    // Once it passed, failures count also within the start period.
    apply_health_result(health, result_with(0), 1, true);
    apply_health_result(health, result_with(1), 1, true);
    EXPECT_EQ(health.status, "unhealthy");
    EXPECT_EQ(health.failing_streak, 1);
}

TEST(HealthResults, LogKeepsLastFive) {
    Health health;
    for (int code = 0; code < 7; ++code) apply_health_result(health, result_with(code), 100, false);

    ASSERT_EQ(health.log.size(), max_health_log_entries);
    EXPECT_EQ(health.log.front().exit_code, 2);
    EXPECT_EQ(health.log.back().exit_code, 6);
}

TEST(HealthJson, DockerShape) {
    Health health;
    health.status = "unhealthy";
    health.failing_streak = 3;
    health.log.push_back({"2026-01-01T00:00:00.000000001Z", "2026-01-01T00:00:00.5Z", 1, "down\n"});

    nlohmann::json json = health;

    EXPECT_EQ(json["Status"], "unhealthy");
    EXPECT_EQ(json["FailingStreak"], 3);
    EXPECT_EQ(json["Log"][0]["Start"], "2026-01-01T00:00:00.000000001Z");
    EXPECT_EQ(json["Log"][0]["End"], "2026-01-01T00:00:00.5Z");
    EXPECT_EQ(json["Log"][0]["ExitCode"], 1);
    EXPECT_EQ(json["Log"][0]["Output"], "down\n");
    auto back = json.get<Health>();
    EXPECT_EQ(back.failing_streak, 3);
    EXPECT_EQ(back.log.at(0).output, "down\n");
}

TEST(HealthText, PsSuffixWords) {
    Health health;
    EXPECT_EQ(health_status_text(health), "health: starting");
    health.status = "healthy";
    EXPECT_EQ(health_status_text(health), "healthy");
    health.status = "unhealthy";
    EXPECT_EQ(health_status_text(health), "unhealthy");
}

}  // namespace
}  // namespace isolab::container
