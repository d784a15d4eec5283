// compare with fake runners: the order of runs, warm-up handling and failures. The real
// paths are exercised by tests/integration/compare_cli_test.cpp.
#include <gtest/gtest.h>

#include <regex>

#include "bench/compare.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {
namespace {

class FakeRunner final : public Runner {
public:
    FakeRunner(std::string name, std::string role, std::vector<std::string>& log, double startup_ms)
        : log_(log), startup_ms_(startup_ms) {
        description_.name = std::move(name);
        description_.role = std::move(role);
        description_.counterpart = description_.role == "reference" ? "container" : "";
        description_.started_means = "fake";
    }

    const PathDescription& description() const override { return description_; }
    std::optional<std::string> unavailable_reason() override { return unavailable_; }

    RunSample run(const Workload& workload) override {
        log_.push_back(description_.name);
        if (++calls_ == fail_on_call_) throw Error(description_.name + " broke");

        ReadinessWatcher watcher(workload);
        auto start = Clock::now();
        watcher.on_line("isolab-ready uptime=1.00", start + std::chrono::microseconds(static_cast<long>(startup_ms_ * 1000)));
        watcher.on_line("6.0.0-fake", start);
        RunSample sample;
        sample.exit_code = 0;
        record_readiness(sample, watcher, start, description_.name);
        sample.figures[figure::memory_peak] = 1000.0 * calls_;
        sample.figures[figure::disk] = 500;
        return sample;
    }

    std::optional<std::string> unavailable_;
    int fail_on_call_ = 0;

private:
    PathDescription description_;
    std::vector<std::string>& log_;
    double startup_ms_;
    int calls_ = 0;
};

CompareOptions options_with(int runs, int warmup) {
    CompareOptions options;
    options.runs = runs;
    options.warmup = warmup;
    return options;
}

TEST(BenchCompare, InterleavesAndAlternatesOrder) {
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<FakeRunner>("container", "isolab", log, 10));
    runners.push_back(std::make_unique<FakeRunner>("vm", "isolab", log, 400));

    auto results = run_compare_with(std::move(runners), options_with(2, 1), find_workload("hello"), {});

    std::vector<std::string> expected = {"container", "vm", "vm", "container", "container", "vm"};
    EXPECT_EQ(log, expected);
    ASSERT_EQ(results.paths.size(), 2U);
    EXPECT_EQ(results.paths[0].runs.size(), 3U);
    EXPECT_TRUE(results.paths[0].runs[0].warmup);
    EXPECT_FALSE(results.paths[0].runs[1].warmup);
    EXPECT_EQ(results.paths[0].runs[2].index, 2U);
}

TEST(BenchCompare, WarmupRecordedNotCounted) {
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<FakeRunner>("container", "isolab", log, 10));

    auto results = run_compare_with(std::move(runners), options_with(3, 2), find_workload("hello"), {});
    const auto& memory = results.paths[0].summaries.at(figure::memory_peak);

    EXPECT_EQ(results.paths[0].runs.size(), 5U);
    EXPECT_EQ(memory.count, 3U);
    EXPECT_DOUBLE_EQ(memory.min, 3000);  // calls 3, 4 and 5 are counted
    EXPECT_NEAR(results.paths[0].summaries.at(figure::startup).median, 10, 0.01);
    EXPECT_EQ(results.paths[0].kernel(), "6.0.0-fake");
}

TEST(BenchCompare, ProgressLinePerRun) {
    std::vector<std::string> log;
    std::vector<ProgressUpdate> progress;
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<FakeRunner>("vm", "isolab", log, 400));

    run_compare_with(std::move(runners), options_with(1, 1), find_workload("hello"),
                     [&progress](const ProgressUpdate& update) { progress.push_back(update); });
    ASSERT_EQ(progress.size(), 4U);
    EXPECT_EQ(progress[0].line, "warm-up 1/1 vm: running");
    EXPECT_FALSE(progress[0].done);
    EXPECT_TRUE(progress[1].done);
    EXPECT_TRUE(std::regex_match(progress[1].line, std::regex(R"(warm-up 1/1 vm: \d+\.\d s \(ready at 400\.0 ms\))")))
        << progress[1].line;
    EXPECT_EQ(progress[2].line, "run 1/1 vm: running");
    EXPECT_TRUE(std::regex_match(progress[3].line, std::regex(R"(run 1/1 vm: \d+\.\d s \(ready at 400\.0 ms\))")))
        << progress[3].line;
}

TEST(BenchCompare, ProgressNamesFailure) {
    std::vector<std::string> log;
    std::vector<ProgressUpdate> progress;
    std::vector<std::unique_ptr<Runner>> runners;
    auto reference = std::make_unique<FakeRunner>("crun", "reference", log, 5);
    reference->fail_on_call_ = 1;
    runners.push_back(std::move(reference));

    run_compare_with(std::move(runners), options_with(1, 0), find_workload("hello"),
                     [&progress](const ProgressUpdate& update) { progress.push_back(update); });
    ASSERT_EQ(progress.size(), 2U);
    EXPECT_TRUE(progress[1].failed);
    EXPECT_NE(progress[1].line.find("(failed: crun broke)"), std::string::npos) << progress[1].line;
}

TEST(BenchCompare, UnavailableReferenceRecorded) {
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<FakeRunner>("container", "isolab", log, 10));
    auto reference = std::make_unique<FakeRunner>("podman", "reference", log, 50);
    reference->unavailable_ = "podman is not installed";
    runners.push_back(std::move(reference));

    auto results = run_compare_with(std::move(runners), options_with(2, 0), find_workload("hello"), {});
    EXPECT_FALSE(results.paths[1].available);
    EXPECT_EQ(results.paths[1].missing_reason, "podman is not installed");
    EXPECT_TRUE(results.paths[1].runs.empty());
    EXPECT_EQ(std::count(log.begin(), log.end(), "podman"), 0);
}

TEST(BenchCompare, FailingReferenceSkippedWithReason) {
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<FakeRunner>("container", "isolab", log, 10));
    auto reference = std::make_unique<FakeRunner>("crun", "reference", log, 5);
    reference->fail_on_call_ = 2;
    runners.push_back(std::move(reference));

    auto results = run_compare_with(std::move(runners), options_with(3, 0), find_workload("hello"), {});
    EXPECT_FALSE(results.paths[1].available);
    EXPECT_EQ(results.paths[1].missing_reason, "run 2 failed: crun broke");
    EXPECT_EQ(std::count(log.begin(), log.end(), "crun"), 2);
    EXPECT_EQ(results.paths[0].runs.size(), 3U);
}

TEST(BenchCompare, FailingIsolabPathThrows) {
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Runner>> runners;
    auto vm = std::make_unique<FakeRunner>("vm", "isolab", log, 400);
    vm->fail_on_call_ = 1;
    runners.push_back(std::move(vm));
    EXPECT_THROW(run_compare_with(std::move(runners), options_with(1, 0), find_workload("hello"), {}), Error);
}

TEST(BenchCompare, InvalidOptionsRejected) {
    std::vector<std::string> log;
    auto run_with = [&log](CompareOptions options) {
        std::vector<std::unique_ptr<Runner>> runners;
        runners.push_back(std::make_unique<FakeRunner>("container", "isolab", log, 10));
        run_compare_with(std::move(runners), options, find_workload("hello"), {});
    };
    EXPECT_THROW(run_with(options_with(0, 0)), Error);
    EXPECT_THROW(run_with(options_with(1, -1)), Error);
    auto small = options_with(1, 0);
    small.memory_bytes = 1 << 20;
    EXPECT_THROW(run_with(small), Error);
    EXPECT_TRUE(log.empty());
}

TEST(BenchCompare, ReadinessMissingNamesOutput) {
    RunSample sample;
    sample.exit_code = 127;
    ReadinessWatcher watcher(find_workload("hello"));
    watcher.on_line("sh: uname: not found", Clock::now());
    try {
        record_readiness(sample, watcher, Clock::now(), "container");
        FAIL() << "expected Error";
    } catch (const Error& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("code 127"), std::string::npos) << message;
        EXPECT_NE(message.find("sh: uname: not found"), std::string::npos) << message;
    }
}

TEST(BenchCompare, UnknownReferenceRejected) {
    image::Store store(Paths{"/nonexistent/root", "/nonexistent/cache"});
    EXPECT_THROW(make_reference_runners({"docker"}, store, {}), Error);
}

}  // namespace
}  // namespace isolab::bench
