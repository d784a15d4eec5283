#pragma once
// The solution bot: takes a lesson through the real isolab binary as a student would,
// with a temporary state root and work folder. After `lesson start` no task may be done;
// after `lesson solve` every task must be. Lessons whose isolab features are missing are
// skipped with the missing features named.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "lessons/engine/catalog.hpp"
#include "lessons/engine/features.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {

class LessonBot : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "lessons run containers and VMs: run the tests as root";
        workdir_ = root_.root().parent_path() / "work";
        setenv("ISOLAB_WORKDIR", workdir_.c_str(), 1);
        setenv("ISOLAB_STUDENT", "solution-bot", 1);
        setenv("ISOLAB_LESSONS", (std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons").c_str(), 1);
    }

    // Skips the test when isolab lacks a feature the lesson needs.
    void require_features(const std::string& lesson_reference) {
        lessons::Catalog catalog(std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons");
        const auto& lesson = catalog.find(lesson_reference);
        lessons::FeatureSet features(ISOLAB_BINARY);
        auto missing = features.missing(lesson.requires_features);
        if (!missing.empty()) {
            std::string names;
            for (const auto& feature : missing) names += (names.empty() ? "" : ", ") + feature;
            GTEST_SKIP() << "lesson " << lesson.name << " waits for isolab features not built yet: " << names;
        }
        project_ = workdir_ / lesson.name;
    }

    nlohmann::json check_json(const std::string& lesson_reference) {
        auto result = run_isolab(root_.paths(), {"lesson", "check", lesson_reference, "--json"});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return nlohmann::json::parse(result.out);
    }

    // start, every task open, solve, every task done.
    void run_bot(const std::string& lesson_reference) {
        require_features(lesson_reference);
        if (IsSkipped()) return;

        auto start = run_isolab(root_.paths(), {"lesson", "start", lesson_reference});
        ASSERT_EQ(start.exit_code, 0) << start.err;
        ASSERT_TRUE(std::filesystem::is_directory(project_)) << start.out;

        auto before = check_json(lesson_reference);
        ASSERT_FALSE(before["tasks"].empty());
        for (const auto& task : before["tasks"]) {
            EXPECT_NE(task["state"], "done") << task["id"] << " passes before the student did anything";
        }

        auto solve = run_isolab(root_.paths(), {"lesson", "solve", lesson_reference});
        EXPECT_EQ(solve.exit_code, 0) << solve.out << solve.err;

        auto after = check_json(lesson_reference);
        for (const auto& task : after["tasks"]) {
            EXPECT_EQ(task["state"], "done") << task["id"] << ": " << task["detail"] << "\n" << solve.out;
        }
        EXPECT_EQ(after["status"], "complete");

        auto record = run_isolab(root_.paths(), {"lesson", "check", "--all", "--json"});
        ASSERT_EQ(record.exit_code, 0) << record.err;
        auto document = nlohmann::json::parse(record.out);
        EXPECT_EQ(document["student"], "solution-bot");
        bool found = false;
        for (const auto& lesson : document["lessons"]) {
            if (lesson["number"] != after["number"]) continue;
            found = true;
            EXPECT_EQ(lesson["status"], "complete");
        }
        EXPECT_TRUE(found);
    }

    TestRoot root_;
    std::filesystem::path workdir_;
    std::filesystem::path project_;
};

}  // namespace isolab::testing
