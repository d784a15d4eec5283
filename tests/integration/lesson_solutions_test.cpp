// The solution bot for every lesson that boots no VM (the VM lessons are in
// compare_lessons_test.cpp, which runs alone).
#include <signal.h>

#include <fstream>

#include "integration/lesson_solution_bot.hpp"
#include "runtime/core/files.hpp"

namespace isolab::testing {
namespace {

class LessonSolutions : public LessonBot {
protected:
    // Lesson 02 leaves a sleeping container behind if its last step fails.
    void TearDown() override {
        auto pid_file = project_ / "sleeper.pid";
        if (project_.empty() || !std::filesystem::exists(pid_file)) return;
        pid_t pid = 0;
        std::ifstream(pid_file) >> pid;
        if (pid <= 1) return;
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        if (comm >> name && name == "sleep") kill(pid, SIGKILL);
    }
};

TEST_F(LessonSolutions, ContainerProcess02) { run_bot("2"); }
TEST_F(LessonSolutions, ImageVersusContainer03) { run_bot("3"); }
TEST_F(LessonSolutions, Dockerfile04) { run_bot("4"); }
TEST_F(LessonSolutions, Compose05) { run_bot("5"); }
TEST_F(LessonSolutions, Volumes06) { run_bot("6"); }
TEST_F(LessonSolutions, DevelopmentVersusProduction07) { run_bot("7"); }
TEST_F(LessonSolutions, StateVersusData08) { run_bot("8"); }

TEST_F(LessonSolutions, ComingLessonStartNamesFeature) {
    lessons::Catalog catalog(std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons");
    lessons::FeatureSet features(ISOLAB_BINARY);
    for (const auto& lesson : catalog.lessons()) {
        auto missing = features.missing(lesson.requires_features);
        if (missing.empty()) continue;

        auto start = run_isolab(root_.paths(), {"lesson", "start", std::to_string(lesson.number)});
        EXPECT_NE(start.exit_code, 0);
        EXPECT_NE(start.err.find(missing.front()), std::string::npos) << start.err;
        EXPECT_EQ(std::count(start.err.begin(), start.err.end(), '\n'), 1) << "one line: " << start.err;
        EXPECT_FALSE(std::filesystem::exists(workdir_ / lesson.name));

        auto list = run_isolab(root_.paths(), {"lesson", "list"});
        EXPECT_EQ(list.exit_code, 0) << list.err;
        EXPECT_NE(list.out.find("coming (waits for: " + missing.front()), std::string::npos) << list.out;
        return;
    }
    GTEST_SKIP() << "every lesson's features exist";
}

TEST_F(LessonSolutions, ResetRemovesProjectFolder) {
    require_features("2");
    if (IsSkipped()) return;
    ASSERT_EQ(run_isolab(root_.paths(), {"lesson", "start", "2"}).exit_code, 0);
    ASSERT_TRUE(std::filesystem::exists(project_));
    auto reset = run_isolab(root_.paths(), {"lesson", "reset", "2"});
    EXPECT_EQ(reset.exit_code, 0) << reset.err;
    EXPECT_FALSE(std::filesystem::exists(project_));
    auto check = run_isolab(root_.paths(), {"lesson", "check", "2"});
    EXPECT_NE(check.exit_code, 0);
    EXPECT_NE(check.err.find("not started"), std::string::npos) << check.err;
}

}  // namespace
}  // namespace isolab::testing
