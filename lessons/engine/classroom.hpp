#pragma once
// The classroom: what the `isolab lesson` commands do for one student. It ties the
// catalog (lessons and their tasks), the checks and the student's saved progress
// together, and prints what the student sees.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lessons/engine/catalog.hpp"
#include "lessons/engine/features.hpp"
#include "lessons/engine/progress.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::lessons {

struct ClassroomOptions {
    Paths paths;                          // the state root the student's isolab uses
    std::filesystem::path lessons_folder; // where the lesson folders are
    std::filesystem::path workdir;        // parent of the students' project folders
    std::string student;
    std::filesystem::path isolab_binary;  // run by checks and feature probes

    // Lessons from default_lessons_folder(), workdir from $ISOLAB_WORKDIR or
    // $HOME/isolab-lessons, student from current_student(), binary beside this executable.
    static ClassroomOptions from_environment(const Paths& paths);
};

enum class TaskState { done, not_yet, waiting };

struct TaskReport {
    std::string id;
    std::string title;
    TaskState state = TaskState::not_yet;
    std::string detail;                    // why the check failed
    std::vector<std::string> waiting_for;  // needs that are not done yet
    std::string done_at;
    int hints_shown = 0;
    int attempts = 0;
};

struct LessonReport {
    std::string name;
    int number = 0;
    std::string title;
    std::string status;  // "coming", "not started", "in progress" or "complete"
    std::vector<std::string> missing_features;
    std::string started_at;
    std::string completed_at;
    std::vector<TaskReport> tasks;
    std::string first_hint;  // first hint of the first task that is not done yet
};

class Classroom {
public:
    explicit Classroom(ClassroomOptions options);

    void list(std::ostream& out);
    void show(const std::string& reference, std::ostream& out);
    void start(const std::string& reference, std::ostream& out);
    // Runs the checks of every task not done yet and saves the result.
    LessonReport check(const std::string& reference);
    void hint(const std::string& reference, std::ostream& out);
    void reset(const std::string& reference, std::ostream& out);
    // Runs the solution of each task not done yet, then its check (for tests and
    // instructors). Returns true when every task is done afterwards.
    bool solve(const std::string& reference, std::ostream& out);

    // The student's record: every lesson with its tasks and times. With `run_checks`,
    // the lessons in progress are checked first.
    nlohmann::json record(bool run_checks);

    const Catalog& catalog() const { return catalog_; }
    // Features the lesson waits for that this isolab lacks; empty when it is ready.
    std::vector<std::string> missing_features(const Lesson& lesson);

private:
    LessonReport report_from_progress(const Lesson& lesson, const StudentProgress& progress);
    LessonProgress started_lesson(const Lesson& lesson) const;
    void require_ready(const Lesson& lesson);
    std::filesystem::path project_folder(const Lesson& lesson) const;
    Paths lesson_paths(const LessonProgress& progress) const;
    void prepare_project_folder(const Lesson& lesson, const std::filesystem::path& folder) const;
    std::string prepare_state_root(const Lesson& lesson) const;
    void prepare_images(const Lesson& lesson, const Paths& paths) const;

    ClassroomOptions options_;
    Catalog catalog_;
    FeatureSet features_;
    ProgressStore store_;
};

// Formats the result of `lesson check` for the student.
void print_lesson_report(const LessonReport& report, std::ostream& out);
nlohmann::json lesson_report_json(const LessonReport& report);

}  // namespace isolab::lessons
