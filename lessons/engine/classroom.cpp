#include "lessons/engine/classroom.hpp"

#include <unistd.h>

#include <cstdlib>

#include "lessons/engine/checks.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/image/store.hpp"

namespace isolab::lessons {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Marks a project folder as made by `lesson start`, so reset and a new start may remove it.
constexpr const char* project_marker = ".isolab-lesson";

std::string two_digits(int number) {
    return (number < 10 ? "0" : "") + std::to_string(number);
}

std::string state_name(TaskState state) {
    switch (state) {
        case TaskState::done: return "done";
        case TaskState::not_yet: return "not yet";
        case TaskState::waiting: return "waiting";
    }
    return "unknown";
}

std::string join(const std::vector<std::string>& words, const std::string& separator) {
    std::string joined;
    for (const auto& word : words) joined += (joined.empty() ? "" : separator) + word;
    return joined;
}

// Under sudo, gives the project folder to the student who ran sudo, so they can edit
// the files without sudo.
void give_to_sudo_user(const fs::path& folder) {
    const char* uid_text = std::getenv("SUDO_UID");
    const char* gid_text = std::getenv("SUDO_GID");
    if (!uid_text || !gid_text || geteuid() != 0) return;
    auto uid = static_cast<uid_t>(std::strtoul(uid_text, nullptr, 10));
    auto gid = static_cast<gid_t>(std::strtoul(gid_text, nullptr, 10));
    if (lchown(folder.c_str(), uid, gid) != 0) throw_errno("chown " + folder.string());
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (lchown(entry.path().c_str(), uid, gid) != 0) throw_errno("chown " + entry.path().string());
    }
}

const Task* first_open_task(const Lesson& lesson, const LessonProgress& progress) {
    for (const auto& task : lesson.tasks) {
        auto found = progress.tasks.find(task.id);
        if (found != progress.tasks.end() && found->second.done) continue;
        bool needs_done = true;
        for (const auto& need : task.needs) {
            auto needed = progress.tasks.find(need);
            needs_done = needs_done && needed != progress.tasks.end() && needed->second.done;
        }
        if (needs_done) return &task;
    }
    return nullptr;
}

}  // namespace

ClassroomOptions ClassroomOptions::from_environment(const Paths& paths) {
    ClassroomOptions options;
    options.paths = paths;
    options.lessons_folder = default_lessons_folder();
    if (const char* workdir = std::getenv("ISOLAB_WORKDIR"); workdir && *workdir) {
        options.workdir = workdir;
    } else {
        const char* home = std::getenv("HOME");
        options.workdir = fs::path(home && *home ? home : "/tmp") / "isolab-lessons";
    }
    options.student = current_student();
    options.isolab_binary = executable_directory() / "isolab";
    return options;
}

Classroom::Classroom(ClassroomOptions options)
    : options_(std::move(options)),
      catalog_(options_.lessons_folder),
      features_(options_.isolab_binary),
      store_(options_.paths, options_.student) {}

std::vector<std::string> Classroom::missing_features(const Lesson& lesson) {
    return features_.missing(lesson.requires_features);
}

void Classroom::require_ready(const Lesson& lesson) {
    auto missing = missing_features(lesson);
    if (!missing.empty()) {
        throw Error("lesson " + two_digits(lesson.number) + " (" + lesson.title + ") waits for isolab features not built yet: " +
                        join(missing, ", "),
                    "`isolab lesson list` shows the lessons that are ready");
    }
    if (lesson.preview) {
        throw Error("lesson " + two_digits(lesson.number) + " (" + lesson.title + ") is a preview and cannot be started yet",
                    "`isolab lesson list` shows the lessons that are ready");
    }
}

LessonReport Classroom::report_from_progress(const Lesson& lesson, const StudentProgress& progress) {
    LessonReport report;
    report.name = lesson.name;
    report.number = lesson.number;
    report.title = lesson.title;
    report.missing_features = missing_features(lesson);

    auto found = progress.lessons.find(lesson.name);
    bool started = found != progress.lessons.end();
    LessonProgress saved = started ? found->second : LessonProgress{};
    report.started_at = saved.started_at;
    report.completed_at = saved.completed_at;

    for (const auto& task : lesson.tasks) {
        TaskReport item;
        item.id = task.id;
        item.title = task.title;
        auto task_progress = saved.tasks.find(task.id);
        if (task_progress != saved.tasks.end()) {
            const auto& stored = task_progress->second;
            item.state = stored.done ? TaskState::done : TaskState::not_yet;
            item.detail = stored.last_result;
            item.done_at = stored.done_at;
            item.hints_shown = stored.hints_shown;
            item.attempts = stored.attempts;
        }
        for (const auto& need : task.needs) {
            auto needed = saved.tasks.find(need);
            if (needed == saved.tasks.end() || !needed->second.done) item.waiting_for.push_back(need);
        }
        if (item.state != TaskState::done && !item.waiting_for.empty()) item.state = TaskState::waiting;
        report.tasks.push_back(item);
    }

    if (!report.missing_features.empty() || lesson.preview) {
        report.status = "coming";
    } else if (!started) {
        report.status = "not started";
    } else {
        report.status = saved.completed_at.empty() ? "in progress" : "complete";
    }
    if (const Task* open = started ? first_open_task(lesson, saved) : nullptr) report.first_hint = open->hints.front();
    return report;
}

void Classroom::list(std::ostream& out) {
    auto progress = store_.load();
    out << "Lessons for " << options_.student << ":\n";
    for (const auto& lesson : catalog_.lessons()) {
        auto report = report_from_progress(lesson, progress);
        int done = 0;
        for (const auto& task : report.tasks) done += task.state == TaskState::done;

        std::string status = report.status;
        if (status == "coming") {
            status = report.missing_features.empty() ? "coming (preview)" : "coming (waits for: " + join(report.missing_features, ", ") + ")";
        } else if (status == "in progress") {
            status = std::to_string(done) + "/" + std::to_string(report.tasks.size()) + " tasks done";
        }
        out << "  " << two_digits(lesson.number) << "  " << lesson.title << "  [" << status << "]\n";
    }
    out << "Start one with: isolab lesson start N\n";
}

void Classroom::show(const std::string& reference, std::ostream& out) {
    const Lesson& lesson = catalog_.find(reference);
    out << read_file(lesson.text_path());
    auto report = report_from_progress(lesson, store_.load());
    out << "\nTasks:\n";
    for (const auto& task : report.tasks) out << "  [" << state_name(task.state) << "] " << task.id << ": " << task.title << "\n";
    if (report.status == "coming") {
        out << "This lesson is coming: it waits for isolab features not built yet (" << join(report.missing_features, ", ") << ").\n";
    }
}

fs::path Classroom::project_folder(const Lesson& lesson) const {
    return options_.workdir / lesson.name;
}

Paths Classroom::lesson_paths(const LessonProgress& progress) const {
    Paths paths = options_.paths;
    if (!progress.state_root.empty()) paths.root = progress.state_root;
    return paths;
}

void Classroom::prepare_project_folder(const Lesson& lesson, const fs::path& folder) const {
    if (fs::exists(folder)) {
        if (!fs::exists(folder / project_marker)) {
            throw Error("folder " + folder.string() + " exists and was not made by isolab lesson start",
                        "move it away, or set ISOLAB_WORKDIR to another folder");
        }
        fs::remove_all(folder);
    }
    fs::create_directories(folder);
    write_file_atomic(folder / project_marker, lesson.name + "\n");
    if (fs::is_directory(lesson.files_folder())) {
        fs::copy(lesson.files_folder(), folder, fs::copy_options::recursive);
    }
    give_to_sudo_user(folder);
    spdlog::debug("lesson {}: project folder {}", lesson.name, folder.string());
}

std::string Classroom::prepare_state_root(const Lesson& lesson) const {
    if (!lesson.setup.fresh_state) return {};
    auto root = options_.paths.root / "lessons" / "roots" / lesson.name;
    fs::remove_all(root);
    fs::create_directories(root);
    spdlog::debug("lesson {}: fresh state root {}", lesson.name, root.string());
    return root.string();
}

void Classroom::prepare_images(const Lesson& lesson, const Paths& paths) const {
    if (lesson.setup.images.empty()) return;
    image::Store store(paths);
    for (const auto& reference : lesson.setup.images) {
        if (image::normalize_reference(reference) == "busybox:latest") {
            store.ensure_busybox();
        } else {
            store.resolve(reference);
        }
        spdlog::debug("lesson {}: image {} ready", lesson.name, reference);
    }
}

LessonProgress Classroom::started_lesson(const Lesson& lesson) const {
    auto progress = store_.load();
    auto found = progress.lessons.find(lesson.name);
    if (found == progress.lessons.end()) {
        throw Error("lesson " + two_digits(lesson.number) + " is not started", "run: isolab lesson start " + std::to_string(lesson.number));
    }
    return found->second;
}

void Classroom::start(const std::string& reference, std::ostream& out) {
    const Lesson& lesson = catalog_.find(reference);
    require_ready(lesson);

    auto progress = store_.load();
    auto found = progress.lessons.find(lesson.name);
    if (found != progress.lessons.end()) {
        prepare_images(lesson, lesson_paths(found->second));
        out << "Lesson " << two_digits(lesson.number) << " is already started; your project folder is " << found->second.project_dir << "\n"
            << "To start over: isolab lesson reset " << lesson.number << "\n";
        return;
    }

    LessonProgress started;
    started.project_dir = project_folder(lesson).string();
    started.state_root = prepare_state_root(lesson);
    prepare_project_folder(lesson, started.project_dir);
    prepare_images(lesson, lesson_paths(started));
    started.started_at = utc_timestamp();
    for (const auto& task : lesson.tasks) started.tasks[task.id] = TaskProgress{};
    store_.update([&](StudentProgress& saved) { saved.lessons[lesson.name] = started; });

    out << "Lesson " << two_digits(lesson.number) << ": " << lesson.title << "\n"
        << "Your project folder: " << started.project_dir << "\n"
        << "  cd " << started.project_dir << "\n";
    if (!started.state_root.empty()) {
        out << "This lesson uses its own empty state root. In your shell, run first:\n"
            << "  export ISOLAB_ROOT=" << started.state_root << "\n";
    }
    out << "Read the lesson:   isolab lesson show " << lesson.number << "\n"
        << "Check your work:   isolab lesson check " << lesson.number << "\n"
        << "First task: " << lesson.tasks.front().title << "\n";
}

LessonReport Classroom::check(const std::string& reference) {
    const Lesson& lesson = catalog_.find(reference);
    require_ready(lesson);
    auto saved = started_lesson(lesson);
    CheckContext context{options_.isolab_binary, lesson_paths(saved), saved.project_dir, lesson.folder};

    for (const auto& task : lesson.tasks) {
        auto& progress = saved.tasks[task.id];
        if (progress.done) continue;
        bool blocked = false;
        for (const auto& need : task.needs) blocked = blocked || !saved.tasks[need].done;
        if (blocked) continue;

        auto outcome = run_check(task, context);
        spdlog::debug("lesson {} task {}: {}", lesson.name, task.id, outcome.passed ? "done" : outcome.detail);
        progress.attempts += 1;
        progress.done = outcome.passed;
        progress.last_result = outcome.detail;
        if (outcome.passed) progress.done_at = utc_timestamp();
    }

    if (const Task* open = first_open_task(lesson, saved)) {
        auto& progress = saved.tasks[open->id];
        progress.hints_shown = std::max(progress.hints_shown, 1);
    } else if (saved.completed_at.empty()) {
        saved.completed_at = utc_timestamp();
    }

    auto updated = store_.update([&](StudentProgress& stored) { stored.lessons[lesson.name] = saved; });
    return report_from_progress(lesson, updated);
}

void Classroom::hint(const std::string& reference, std::ostream& out) {
    const Lesson& lesson = catalog_.find(reference);
    auto saved = started_lesson(lesson);
    const Task* open = first_open_task(lesson, saved);
    if (!open) {
        out << "All tasks of lesson " << two_digits(lesson.number) << " are done.\n";
        return;
    }

    int shown = saved.tasks[open->id].hints_shown;
    int total = static_cast<int>(open->hints.size());
    int index = std::min(shown, total - 1);
    out << "Hint " << index + 1 << " of " << total << " for task " << open->id << " (" << open->title << "):\n  "
        << open->hints[static_cast<size_t>(index)] << "\n";
    if (shown >= total) out << "That was the last hint; the lesson text explains this step (isolab lesson show " << lesson.number << ").\n";

    store_.update([&](StudentProgress& stored) {
        auto& progress = stored.lessons[lesson.name].tasks[open->id];
        progress.hints_shown = std::min(index + 1, total);
    });
}

void Classroom::reset(const std::string& reference, std::ostream& out) {
    const Lesson& lesson = catalog_.find(reference);
    auto progress = store_.load();
    auto found = progress.lessons.find(lesson.name);
    if (found == progress.lessons.end()) {
        out << "Lesson " << two_digits(lesson.number) << " has no progress to reset.\n";
        return;
    }

    fs::path folder = found->second.project_dir;
    if (fs::exists(folder / project_marker)) fs::remove_all(folder);
    if (!found->second.state_root.empty()) fs::remove_all(found->second.state_root);
    store_.update([&](StudentProgress& stored) { stored.lessons.erase(lesson.name); });
    out << "Lesson " << two_digits(lesson.number) << " reset: progress cleared and " << folder.string() << " removed.\n"
        << "Start again with: isolab lesson start " << lesson.number << "\n";
}

bool Classroom::solve(const std::string& reference, std::ostream& out) {
    const Lesson& lesson = catalog_.find(reference);
    require_ready(lesson);
    auto saved = started_lesson(lesson);
    CheckContext context{options_.isolab_binary, lesson_paths(saved), saved.project_dir, lesson.folder};

    for (const auto& task : lesson.tasks) {
        if (saved.tasks[task.id].done) continue;
        if (task.solution) {
            auto result = run_solution(task, context);
            out << "solution " << task.id << ": exit " << result.exit_code << "\n";
            if (result.exit_code != 0) out << result.output;
        } else if (task.check.kind == Check::Kind::answers) {
            write_answer_key(task.check.answers, saved.project_dir);
            out << "solution " << task.id << ": wrote the answer key to " << task.check.answers.answers_file << "\n";
        }
        auto report = check(reference);
        saved = started_lesson(lesson);
        if (!saved.tasks[task.id].done) {
            out << "task " << task.id << " is not done after its solution: " << saved.tasks[task.id].last_result << "\n";
            return false;
        }
        out << "task " << task.id << ": done\n";
    }
    return true;
}

json Classroom::record(bool run_checks) {
    json lessons = json::array();
    for (const auto& lesson : catalog_.lessons()) {
        auto report = report_from_progress(lesson, store_.load());
        if (run_checks && report.status == "in progress") report = check(lesson.name);
        lessons.push_back(lesson_report_json(report));
    }
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return {{"format", "isolab-lesson-record"}, {"version", 1}, {"student", options_.student},
            {"host", host},                     {"generated_at", utc_timestamp()}, {"lessons", lessons}};
}

json lesson_report_json(const LessonReport& report) {
    json tasks = json::array();
    for (const auto& task : report.tasks) {
        tasks.push_back({{"id", task.id},
                         {"title", task.title},
                         {"state", state_name(task.state)},
                         {"done_at", task.done_at},
                         {"hints_shown", task.hints_shown},
                         {"attempts", task.attempts},
                         {"detail", task.detail},
                         {"waiting_for", task.waiting_for}});
    }
    return {{"number", report.number},         {"name", report.name},
            {"title", report.title},           {"status", report.status},
            {"missing_features", report.missing_features},
            {"started_at", report.started_at}, {"completed_at", report.completed_at},
            {"tasks", tasks}};
}

void print_lesson_report(const LessonReport& report, std::ostream& out) {
    out << "Lesson " << two_digits(report.number) << ": " << report.title << "\n";
    int done = 0;
    for (const auto& task : report.tasks) {
        done += task.state == TaskState::done;
        out << "  [" << state_name(task.state) << "] " << task.id << ": " << task.title;
        if (task.state == TaskState::waiting) out << " (after " << join(task.waiting_for, ", ") << ")";
        out << "\n";
        if (task.state == TaskState::not_yet && !task.detail.empty()) out << "      " << task.detail << "\n";
    }
    out << done << "/" << report.tasks.size() << " tasks done.\n";
    if (!report.first_hint.empty()) {
        out << "Hint: " << report.first_hint << "\n"
            << "More hints: isolab lesson hint " << report.number << "\n";
    } else if (report.status == "complete") {
        out << "Lesson complete.\n";
    }
}

}  // namespace isolab::lessons
