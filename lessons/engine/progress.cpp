#include "lessons/engine/progress.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <regex>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::lessons {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json task_to_json(const TaskProgress& task) {
    return {{"done", task.done}, {"done_at", task.done_at}, {"hints_shown", task.hints_shown},
            {"attempts", task.attempts}, {"last_result", task.last_result}};
}

TaskProgress task_from_json(const json& value) {
    TaskProgress task;
    task.done = value.at("done").get<bool>();
    task.done_at = value.value("done_at", "");
    task.hints_shown = value.value("hints_shown", 0);
    task.attempts = value.value("attempts", 0);
    task.last_result = value.value("last_result", "");
    return task;
}

json lesson_to_json(const LessonProgress& lesson) {
    json tasks = json::object();
    for (const auto& [id, task] : lesson.tasks) tasks[id] = task_to_json(task);
    return {{"started_at", lesson.started_at}, {"completed_at", lesson.completed_at},
            {"project_dir", lesson.project_dir}, {"state_root", lesson.state_root}, {"tasks", tasks}};
}

LessonProgress lesson_from_json(const json& value) {
    LessonProgress lesson;
    lesson.started_at = value.value("started_at", "");
    lesson.completed_at = value.value("completed_at", "");
    lesson.project_dir = value.value("project_dir", "");
    lesson.state_root = value.value("state_root", "");
    for (const auto& [id, task] : value.at("tasks").items()) lesson.tasks[id] = task_from_json(task);
    return lesson;
}

}  // namespace

json to_json(const StudentProgress& progress) {
    json lessons = json::object();
    for (const auto& [name, lesson] : progress.lessons) lessons[name] = lesson_to_json(lesson);
    return {{"format", "isolab-lesson-progress"}, {"version", 1}, {"student", progress.student}, {"lessons", lessons}};
}

StudentProgress progress_from_json(const json& value, const std::string& source) {
    try {
        if (value.at("format") != "isolab-lesson-progress" || value.at("version") != 1) {
            throw Error(source + ": not an isolab lesson progress file (version 1)");
        }
        StudentProgress progress;
        progress.student = value.at("student").get<std::string>();
        for (const auto& [name, lesson] : value.at("lessons").items()) progress.lessons[name] = lesson_from_json(lesson);
        return progress;
    } catch (const json::exception& error) {
        throw Error(source + ": invalid lesson progress: " + error.what(), "run `isolab lesson reset N` for the lesson, or remove the file");
    }
}

void validate_student_name(const std::string& name) {
    static const std::regex pattern("[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}");
    if (!std::regex_match(name, pattern)) {
        throw Error("invalid student name \"" + name + "\"", "set ISOLAB_STUDENT to 1-64 characters of letters, digits, . _ -");
    }
}

std::string current_student() {
    std::string name;
    if (const char* student = std::getenv("ISOLAB_STUDENT"); student && *student) {
        name = student;
    } else if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user && *sudo_user) {
        name = sudo_user;
    } else if (const passwd* entry = getpwuid(getuid())) {
        name = entry->pw_name;
    } else {
        name = "uid" + std::to_string(getuid());
    }
    validate_student_name(name);
    return name;
}

ProgressStore::ProgressStore(const Paths& paths, std::string student)
    : folder_(paths.root / "lessons" / "progress"), student_(std::move(student)) {
    validate_student_name(student_);
    file_ = folder_ / (student_ + ".json");
}

StudentProgress ProgressStore::load() const {
    if (!fs::exists(file_)) return StudentProgress{student_, {}};
    json value;
    try {
        value = json::parse(read_file(file_));
    } catch (const json::exception& error) {
        throw Error(file_.string() + ": invalid JSON: " + error.what(), "remove the file to start the lessons afresh");
    }
    return progress_from_json(value, file_.string());
}

void ProgressStore::save(const StudentProgress& progress) const {
    fs::create_directories(folder_);
    FileLock lock(folder_ / ".lock");
    write_file_atomic(file_, to_json(progress).dump(2) + "\n");
    spdlog::debug("lesson progress saved to {}", file_.string());
}

StudentProgress ProgressStore::update(const std::function<void(StudentProgress&)>& change) const {
    fs::create_directories(folder_);
    FileLock lock(folder_ / ".lock");
    auto progress = load();
    change(progress);
    write_file_atomic(file_, to_json(progress).dump(2) + "\n");
    spdlog::debug("lesson progress updated in {}", file_.string());
    return progress;
}

}  // namespace isolab::lessons
