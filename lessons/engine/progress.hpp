#pragma once
// A student's progress through the lessons, kept as one JSON file per student under
// <state root>/lessons/progress/<student>.json and replaced atomically on every save.
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/paths.hpp"

namespace isolab::lessons {

struct TaskProgress {
    bool done = false;
    std::string done_at;     // RFC 3339 UTC, when the check first passed
    int hints_shown = 0;     // how many of the task's hints the student has seen
    int attempts = 0;        // how many checks ran for this task
    std::string last_result; // the first line a failing check printed, or empty
};

struct LessonProgress {
    std::string started_at;
    std::string completed_at;             // set when every task is done
    std::string project_dir;              // the student's project folder for this lesson
    std::string state_root;               // empty: the state root `lesson` ran with
    std::map<std::string, TaskProgress> tasks;  // by task id
};

struct StudentProgress {
    std::string student;
    std::map<std::string, LessonProgress> lessons;  // by lesson folder name
};

nlohmann::json to_json(const StudentProgress& progress);
// Throws Error naming `source` when the JSON does not have the progress format.
StudentProgress progress_from_json(const nlohmann::json& json, const std::string& source);

// The student's name: $ISOLAB_STUDENT, else $SUDO_USER, else the user name of the real
// uid. Throws Error when the name cannot serve as a file name.
std::string current_student();
// Throws Error unless `name` is 1 to 64 characters of A-Z a-z 0-9 . _ - not starting with '.'.
void validate_student_name(const std::string& name);

class ProgressStore {
public:
    ProgressStore(const Paths& paths, std::string student);

    const std::filesystem::path& file() const { return file_; }
    // The saved progress, or an empty one for a student who has not started yet.
    StudentProgress load() const;
    // Writes the progress atomically while holding the progress lock.
    void save(const StudentProgress& progress) const;
    // Loads, applies `change` and saves under one lock, so two isolab processes saving
    // at once lose neither change. Returns the saved progress.
    StudentProgress update(const std::function<void(StudentProgress&)>& change) const;

private:
    std::filesystem::path folder_;
    std::filesystem::path file_;
    std::string student_;
};

}  // namespace isolab::lessons
