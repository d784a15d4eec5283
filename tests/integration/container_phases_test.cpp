// `isolab run --phases`: the start-up phase table on stderr after the workload exits,
// with stdout left to the workload. Needs root.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ContainerPhases : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
    }

    TestRoot root_;
};

struct PhaseRow {
    std::string name;
    double at_ms = 0;
    double step_ms = 0;
};

// The rows after the "PHASE" header line; other stderr lines are ignored.
std::vector<PhaseRow> phase_rows(const std::string& err) {
    std::vector<PhaseRow> rows;
    std::istringstream lines(err);
    std::string line;
    bool in_table = false;
    const std::regex row(R"(^(\S+)\s+(-?\d+\.\d)\s+(-?\d+\.\d)$)");
    while (std::getline(lines, line)) {
        if (line.rfind("PHASE", 0) == 0) {
            in_table = true;
            continue;
        }
        std::smatch match;
        if (in_table && std::regex_match(line, match, row)) {
            rows.push_back({match[1], std::stod(match[2]), std::stod(match[3])});
        }
    }
    return rows;
}

TEST_F(ContainerPhases, TablePrintedOnStderr) {
    auto result = run_isolab(root_.paths(), {"run", "--rm", "--phases", "busybox", "echo", "hello"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "hello\n");
    EXPECT_NE(result.err.find("PHASE"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("STEP (ms)"), std::string::npos) << result.err;

    auto rows = phase_rows(result.err);
    std::vector<std::string> names;
    for (const auto& row : rows) names.push_back(row.name);
    for (const char* expected : {"create", "namespaces", "cgroup", "mounts", "pivot_root", "exec", "exit"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected << " in\n" << result.err;
    }
}

TEST_F(ContainerPhases, StepsAddUpToMarks) {
    auto result = run_isolab(root_.paths(), {"run", "--rm", "--phases", "busybox", "true"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto rows = phase_rows(result.err);
    ASSERT_FALSE(rows.empty()) << result.err;

    double previous = 0;
    for (const auto& row : rows) {
        EXPECT_NEAR(row.step_ms, row.at_ms - previous, 0.11) << row.name;
        previous = row.at_ms;
    }
    EXPECT_EQ(rows.back().name, "exit");
    EXPECT_GT(rows.back().at_ms, 0);
}

TEST_F(ContainerPhases, ExitCodeKept) {
    auto result = run_isolab(root_.paths(), {"run", "--rm", "--phases", "busybox", "sh", "-c", "exit 7"});
    EXPECT_EQ(result.exit_code, 7);
    EXPECT_FALSE(phase_rows(result.err).empty()) << result.err;
}

TEST_F(ContainerPhases, WithoutFlagNoTable) {
    auto result = run_isolab(root_.paths(), {"run", "--rm", "busybox", "true"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err.find("PHASE"), std::string::npos) << result.err;
}

TEST_F(ContainerPhases, DetachRejected) {
    auto result = run_isolab(root_.paths(), {"run", "-d", "--phases", "busybox", "true"});
    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("--phases needs a foreground run"), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(root_.paths().containers(), error)) {
        EXPECT_EQ(entry.path().filename().string().front(), '.') << entry.path();
    }
}

}  // namespace
}  // namespace isolab::testing
