#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "lessons/engine/classroom.hpp"
#include "lessons/engine/progress.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab::lessons {
namespace {

namespace fs = std::filesystem;

TEST(LessonProgress, JsonRoundTrip) {
    StudentProgress progress;
    progress.student = "alice";
    auto& lesson = progress.lessons["02-container-process"];
    lesson.started_at = "2026-12-04T10:00:00Z";
    lesson.project_dir = "/home/alice/isolab-lessons/02-container-process";
    lesson.state_root = "/var/lib/isolab/lessons/roots/02";
    lesson.tasks["kernel"] = {true, "2026-12-04T10:05:00Z", 2, 3, ""};
    lesson.tasks["pid"] = {false, "", 1, 1, "no running process"};

    auto copy = progress_from_json(to_json(progress), "memory");
    EXPECT_EQ(copy.student, "alice");
    ASSERT_EQ(copy.lessons.count("02-container-process"), 1u);
    const auto& restored = copy.lessons.at("02-container-process");
    EXPECT_EQ(restored.started_at, lesson.started_at);
    EXPECT_EQ(restored.project_dir, lesson.project_dir);
    EXPECT_EQ(restored.state_root, lesson.state_root);
    EXPECT_TRUE(restored.tasks.at("kernel").done);
    EXPECT_EQ(restored.tasks.at("kernel").done_at, "2026-12-04T10:05:00Z");
    EXPECT_EQ(restored.tasks.at("kernel").hints_shown, 2);
    EXPECT_EQ(restored.tasks.at("kernel").attempts, 3);
    EXPECT_FALSE(restored.tasks.at("pid").done);
    EXPECT_EQ(restored.tasks.at("pid").last_result, "no running process");
}

TEST(LessonProgress, StoreSavesAndLoads) {
    testing::TestRoot root;
    ProgressStore store(root.paths(), "bob");
    EXPECT_TRUE(store.load().lessons.empty());

    StudentProgress progress{"bob", {}};
    progress.lessons["01-x"].started_at = "2026-12-04T10:00:00Z";
    store.save(progress);
    EXPECT_EQ(store.file(), root.root() / "lessons" / "progress" / "bob.json");
    EXPECT_EQ(store.load().lessons.at("01-x").started_at, "2026-12-04T10:00:00Z");

    store.update([](StudentProgress& saved) { saved.lessons["02-y"].started_at = "later"; });
    auto loaded = store.load();
    EXPECT_EQ(loaded.lessons.size(), 2u);
    EXPECT_EQ(loaded.lessons.at("02-y").started_at, "later");
}

TEST(LessonProgress, CorruptFileRaisesError) {
    testing::TestRoot root;
    ProgressStore store(root.paths(), "carol");
    fs::create_directories(store.file().parent_path());
    write_file_atomic(store.file(), "{not json");
    EXPECT_THROW(store.load(), Error);
    write_file_atomic(store.file(), R"({"format": "something-else", "version": 1})");
    EXPECT_THROW(store.load(), Error);
    // nlohmann::json reports a number beyond a double's range as out_of_range.
    write_file_atomic(store.file(), R"({"version": 1e999})");
    EXPECT_THROW(store.load(), Error);
}

TEST(LessonProgress, StudentNamesValidated) {
    EXPECT_NO_THROW(validate_student_name("alice.smith-2"));
    for (const char* name : {"", "../etc", "a/b", ".hidden", "with space", "x\n"}) {
        EXPECT_THROW(validate_student_name(name), Error) << name;
    }
}

// A lesson folder with three tasks: b needs a, and c has three hints. Every check only
// looks for a file in the project folder, so the tests control each task's outcome.
class ClassroomFixture : public ::testing::Test {
protected:
    void SetUp() override {
        lessons_ = root_.root().parent_path() / "lessons";
        fs::create_directories(lessons_ / "01-files" / "files");
        write_file_atomic(lessons_ / "01-files" / "lesson.md", "# Files\n\nMake files.\n");
        write_file_atomic(lessons_ / "01-files" / "files" / "given.txt", "from the lesson\n");
        write_file_atomic(lessons_ / "01-files" / "tasks.yaml", R"(title: Files
setup:
  fresh_state: true
tasks:
  - id: a
    title: Make a.txt
    check: {shell: "test -f a.txt || { echo 'a.txt is missing'; exit 1; }"}
    hints: [a-hint-1, a-hint-2]
    solution: touch a.txt
  - id: b
    title: Make b.txt
    needs: [a]
    check: {shell: test -f b.txt}
    hints: [b-hint-1]
    solution: touch b.txt
  - id: c
    title: Make c.txt
    check: {shell: test -f c.txt}
    hints: [c-hint-1, c-hint-2, c-hint-3]
    solution: touch c.txt
)");
        options_.paths = root_.paths();
        options_.lessons_folder = lessons_;
        options_.workdir = root_.root().parent_path() / "work";
        options_.student = "dana";
        options_.isolab_binary = ISOLAB_BINARY;
    }

    fs::path project() const { return options_.workdir / "01-files"; }

    std::string hint_text(Classroom& classroom) {
        std::ostringstream out;
        classroom.hint("1", out);
        return out.str();
    }

    testing::TestRoot root_;
    fs::path lessons_;
    ClassroomOptions options_;
};

TEST_F(ClassroomFixture, StartPreparesProjectFolder) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    EXPECT_TRUE(fs::exists(project() / "given.txt"));
    EXPECT_TRUE(fs::exists(project() / ".isolab-lesson"));
    auto fresh_root = root_.root() / "lessons" / "roots" / "01-files";
    EXPECT_TRUE(fs::is_directory(fresh_root));
    EXPECT_NE(out.str().find("export ISOLAB_ROOT=" + fresh_root.string()), std::string::npos) << out.str();

    auto saved = ProgressStore(root_.paths(), "dana").load();
    ASSERT_EQ(saved.lessons.count("01-files"), 1u);
    EXPECT_EQ(saved.lessons.at("01-files").project_dir, project().string());
    EXPECT_EQ(saved.lessons.at("01-files").state_root, fresh_root.string());
}

TEST_F(ClassroomFixture, StartRefusesForeignFolder) {
    fs::create_directories(project());
    write_file_atomic(project() / "mine.txt", "student's own file\n");
    Classroom classroom(options_);
    std::ostringstream out;
    EXPECT_THROW(classroom.start("1", out), Error);
    EXPECT_TRUE(fs::exists(project() / "mine.txt"));
}

TEST_F(ClassroomFixture, CheckBeforeStartRaisesError) {
    Classroom classroom(options_);
    EXPECT_THROW(classroom.check("1"), Error);
}

TEST_F(ClassroomFixture, NeedsKeepLaterTaskWaiting) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    // b's own check would pass, but b needs a.
    write_file_atomic(project() / "b.txt", "");
    auto report = classroom.check("1");
    ASSERT_EQ(report.tasks.size(), 3u);
    EXPECT_EQ(report.tasks[0].state, TaskState::not_yet);
    EXPECT_EQ(report.tasks[0].detail, "a.txt is missing");
    EXPECT_EQ(report.tasks[1].state, TaskState::waiting);
    EXPECT_EQ(report.tasks[1].waiting_for, std::vector<std::string>{"a"});
    EXPECT_EQ(report.tasks[1].attempts, 0);
    EXPECT_EQ(report.first_hint, "a-hint-1");

    write_file_atomic(project() / "a.txt", "");
    report = classroom.check("1");
    EXPECT_EQ(report.tasks[0].state, TaskState::done);
    EXPECT_EQ(report.tasks[1].state, TaskState::done);
    EXPECT_FALSE(report.tasks[1].done_at.empty());
    EXPECT_EQ(report.tasks[2].state, TaskState::not_yet);
    EXPECT_EQ(report.first_hint, "c-hint-1");
    EXPECT_EQ(report.status, "in progress");
}

TEST_F(ClassroomFixture, DoneTasksStayDone) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    write_file_atomic(project() / "a.txt", "");
    classroom.check("1");
    fs::remove(project() / "a.txt");
    auto report = classroom.check("1");
    EXPECT_EQ(report.tasks[0].state, TaskState::done);
    EXPECT_EQ(report.tasks[0].attempts, 1);
}

TEST_F(ClassroomFixture, HintsComeInOrder) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    write_file_atomic(project() / "a.txt", "");
    write_file_atomic(project() / "b.txt", "");
    classroom.check("1");  // shows c-hint-1

    EXPECT_NE(hint_text(classroom).find("Hint 2 of 3 for task c"), std::string::npos);
    auto third = hint_text(classroom);
    EXPECT_NE(third.find("c-hint-3"), std::string::npos) << third;
    EXPECT_EQ(third.find("last hint"), std::string::npos) << third;
    auto again = hint_text(classroom);
    EXPECT_NE(again.find("c-hint-3"), std::string::npos) << again;
    EXPECT_NE(again.find("last hint"), std::string::npos) << again;

    auto saved = ProgressStore(root_.paths(), "dana").load();
    EXPECT_EQ(saved.lessons.at("01-files").tasks.at("c").hints_shown, 3);
}

TEST_F(ClassroomFixture, HintWithoutCheckStartsAtFirst) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    EXPECT_NE(hint_text(classroom).find("a-hint-1"), std::string::npos);
    EXPECT_NE(hint_text(classroom).find("a-hint-2"), std::string::npos);
}

TEST_F(ClassroomFixture, SolveCompletesLesson) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    EXPECT_TRUE(classroom.solve("1", out)) << out.str();
    auto report = classroom.check("1");
    for (const auto& task : report.tasks) EXPECT_EQ(task.state, TaskState::done) << task.id;
    EXPECT_EQ(report.status, "complete");
    EXPECT_FALSE(report.completed_at.empty());
}

TEST_F(ClassroomFixture, ResetClearsProgressAndFolder) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    classroom.reset("1", out);
    EXPECT_FALSE(fs::exists(project()));
    EXPECT_FALSE(fs::exists(root_.root() / "lessons" / "roots" / "01-files"));
    EXPECT_EQ(ProgressStore(root_.paths(), "dana").load().lessons.count("01-files"), 0u);
}

TEST_F(ClassroomFixture, RecordListsLessonsAndTasks) {
    Classroom classroom(options_);
    std::ostringstream out;
    classroom.start("1", out);
    write_file_atomic(project() / "a.txt", "");
    auto record = classroom.record(true);
    EXPECT_EQ(record["format"], "isolab-lesson-record");
    EXPECT_EQ(record["student"], "dana");
    ASSERT_EQ(record["lessons"].size(), 1u);
    const auto& lesson = record["lessons"][0];
    EXPECT_EQ(lesson["name"], "01-files");
    EXPECT_EQ(lesson["status"], "in progress");
    EXPECT_EQ(lesson["tasks"][0]["state"], "done");
    EXPECT_EQ(lesson["tasks"][1]["state"], "not yet");
    EXPECT_FALSE(lesson["started_at"].get<std::string>().empty());
}

}  // namespace
}  // namespace isolab::lessons
