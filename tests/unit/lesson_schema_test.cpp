#include <gtest/gtest.h>

#include <string>

#include "lessons/engine/catalog.hpp"
#include "lessons/engine/lesson.hpp"
#include "runtime/core/error.hpp"

namespace isolab::lessons {
namespace {

const char* valid_lesson = R"(title: Example
summary: One line.
requires: [run]
setup:
  images: [busybox]
  fresh_state: true
tasks:
  - id: first
    title: Make a file
    timeout: 30
    check:
      shell: test -f made.txt
    hints: [one, two]
    solution: touch made.txt
  - id: second
    title: Query isolab
    needs: [first]
    check:
      isolab: [images, --format, json]
      expect:
        exit_code: 0
        output_contains: [busybox]
        json_where: {Repository: busybox}
        json_min_count: 1
    hints: [three]
  - id: third
    title: Answer
    check:
      answers:
        file: answers.yaml
        results: results.json
        questions:
          - {key: startup, pointer: /paths/name=vm/figures, tolerance: 0.1, scale: 1000}
    hints: [four]
)";

// Parses `text` and returns the error message, or "" when it parsed.
std::string parse_error(const std::string& text) {
    try {
        parse_lesson(text, "example/tasks.yaml");
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(LessonSchema, ValidLessonParses) {
    auto lesson = parse_lesson(valid_lesson, "example/tasks.yaml");
    EXPECT_EQ(lesson.title, "Example");
    EXPECT_EQ(lesson.requires_features, std::vector<std::string>{"run"});
    EXPECT_TRUE(lesson.setup.fresh_state);
    EXPECT_EQ(lesson.setup.images, std::vector<std::string>{"busybox"});
    ASSERT_EQ(lesson.tasks.size(), 3u);

    const auto& first = lesson.tasks[0];
    EXPECT_EQ(first.check.kind, Check::Kind::shell);
    EXPECT_EQ(first.timeout.count(), 30);
    EXPECT_EQ(first.hints, (std::vector<std::string>{"one", "two"}));
    ASSERT_TRUE(first.solution.has_value());
    EXPECT_EQ(first.line, 8);

    const auto& second = lesson.tasks[1];
    EXPECT_EQ(second.check.kind, Check::Kind::isolab);
    EXPECT_EQ(second.check.isolab_arguments, (std::vector<std::string>{"images", "--format", "json"}));
    EXPECT_EQ(second.check.expect.json_where.at("Repository"), "busybox");
    EXPECT_EQ(second.needs, std::vector<std::string>{"first"});
    EXPECT_FALSE(second.solution.has_value());

    const auto& third = lesson.tasks[2];
    EXPECT_EQ(third.check.kind, Check::Kind::answers);
    ASSERT_EQ(third.check.answers.questions.size(), 1u);
    EXPECT_DOUBLE_EQ(third.check.answers.questions[0].tolerance, 0.1);
    EXPECT_DOUBLE_EQ(third.check.answers.questions[0].scale, 1000);
}

TEST(LessonSchema, UnknownTopLevelKeyNamesLineAndKey) {
    auto message = parse_error("title: x\ncolour: blue\ntasks: []\n");
    EXPECT_NE(message.find("example/tasks.yaml:2:"), std::string::npos) << message;
    EXPECT_NE(message.find("\"colour\""), std::string::npos) << message;
}

TEST(LessonSchema, UnknownTaskKeyNamesLineAndKey) {
    auto message = parse_error(
        "title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n    hint: extra\n");
    EXPECT_NE(message.find("example/tasks.yaml:7:"), std::string::npos) << message;
    EXPECT_NE(message.find("\"hint\""), std::string::npos) << message;
}

TEST(LessonSchema, UnknownExpectKeyRejected) {
    auto message = parse_error(
        "title: x\ntasks:\n  - id: a\n    title: A\n    check:\n      isolab: [ps]\n      expect:\n        exit: 0\n"
        "    hints: [h]\n");
    EXPECT_NE(message.find("example/tasks.yaml:8:"), std::string::npos) << message;
    EXPECT_NE(message.find("\"exit\""), std::string::npos) << message;
}

TEST(LessonSchema, WrongTypesRejected) {
    struct Case {
        const char* yaml;
        const char* line;
        const char* key;
    };
    const Case cases[] = {
        {"title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: just one\n", ":6:", "\"hints\""},
        {"title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n    timeout: soon\n", ":7:", "\"timeout\""},
        {"title: [x]\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n", ":1:", "\"title\""},
        {"title: x\nsetup:\n  fresh_state: maybe\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n", ":3:",
         "\"fresh_state\""},
        {"title: x\ntasks:\n  - id: a\n    title: A\n    check: {isolab: [ps], expect: {exit_code: zero}}\n    hints: [h]\n", ":5:",
         "\"exit_code\""},
        {"title: x\ntasks: {a: 1}\n", ":2:", "\"tasks\""},
    };
    for (const auto& item : cases) {
        auto message = parse_error(item.yaml);
        EXPECT_NE(message.find(std::string("example/tasks.yaml") + item.line), std::string::npos) << item.yaml << "\n" << message;
        EXPECT_NE(message.find(item.key), std::string::npos) << item.yaml << "\n" << message;
    }
}

TEST(LessonSchema, NeedsMustNameEarlierTask) {
    auto message = parse_error(
        "title: x\ntasks:\n  - id: a\n    title: A\n    needs: [b]\n    check: {shell: 'true'}\n    hints: [h]\n"
        "  - id: b\n    title: B\n    check: {shell: 'true'}\n    hints: [h]\n");
    EXPECT_NE(message.find(":5:"), std::string::npos) << message;
    EXPECT_NE(message.find("not an earlier task"), std::string::npos) << message;
}

TEST(LessonSchema, DuplicateTaskIdRejected) {
    auto message = parse_error(
        "title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n"
        "  - id: a\n    title: B\n    check: {shell: 'true'}\n    hints: [h]\n");
    EXPECT_NE(message.find(":7:"), std::string::npos) << message;
    EXPECT_NE(message.find("duplicate"), std::string::npos) << message;
}

TEST(LessonSchema, CheckNeedsExactlyOneKind) {
    auto both = parse_error("title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true', isolab: [ps]}\n    hints: [h]\n");
    EXPECT_NE(both.find("exactly one"), std::string::npos) << both;
    auto none = parse_error("title: x\ntasks:\n  - id: a\n    title: A\n    check: {}\n    hints: [h]\n");
    EXPECT_NE(none.find("exactly one"), std::string::npos) << none;
}

TEST(LessonSchema, UnknownFeatureRejected) {
    auto message = parse_error("title: x\nrequires: [teleport]\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n");
    EXPECT_NE(message.find(":2:"), std::string::npos) << message;
    EXPECT_NE(message.find("teleport"), std::string::npos) << message;
}

TEST(LessonSchema, TaskWithoutHintsRejected) {
    auto message = parse_error("title: x\ntasks:\n  - id: a\n    title: A\n    check: {shell: 'true'}\n");
    EXPECT_NE(message.find("hints"), std::string::npos) << message;
}

TEST(LessonSchema, InvalidYamlNamesLine) {
    auto message = parse_error("title: x\ntasks:\n  - id: [unclosed\n");
    EXPECT_NE(message.find("example/tasks.yaml:"), std::string::npos) << message;
    EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
}

TEST(LessonSchema, InvalidRegexRejected) {
    auto message = parse_error(
        "title: x\ntasks:\n  - id: a\n    title: A\n    check: {isolab: [ps], expect: {output_matches: '(unclosed'}}\n    hints: [h]\n");
    EXPECT_NE(message.find("output_matches"), std::string::npos) << message;
}

TEST(LessonSchema, MapAsKeyRejected) {
    auto message = parse_error("title: x\ntasks:\n  - id: a\n    title: A\n    ? check: {shell: 'true'}\n    hints: [h]\n");
    EXPECT_NE(message.find("example/tasks.yaml:5"), std::string::npos) << message;
    EXPECT_NE(message.find("must be a plain name"), std::string::npos) << message;
}

TEST(LessonSchema, LongTaskIdRejectedShort) {
    auto message = parse_error("title: x\ntasks:\n  - id: " + std::string(900, 'a') +
                               "_\n    title: A\n    check: {shell: 'true'}\n    hints: [h]\n");
    EXPECT_NE(message.find("must use a-z, 0-9 and -"), std::string::npos) << message;
    EXPECT_LT(message.size(), 500u) << message;
}

TEST(LessonCatalog, ShippedLessonsAllValid) {
    Catalog catalog(std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons");
    const std::vector<std::string> expected = {
        "01-vm-whole-computer", "02-container-process", "03-image-vs-container", "04-dockerfile", "05-compose",
        "06-volumes",           "07-dev-vs-prod",       "08-state-vs-data",      "09-measure",    "10-kernel-sharing"};
    ASSERT_EQ(catalog.lessons().size(), expected.size());
    for (size_t index = 0; index < expected.size(); ++index) {
        const auto& lesson = catalog.lessons()[index];
        EXPECT_EQ(lesson.name, expected[index]);
        EXPECT_EQ(lesson.number, static_cast<int>(index + 1));
        EXPECT_TRUE(std::filesystem::exists(lesson.text_path())) << lesson.name;
        for (const auto& task : lesson.tasks) {
            bool answer_key = task.check.kind == Check::Kind::answers;
            EXPECT_TRUE(task.solution.has_value() || answer_key) << lesson.name << " task " << task.id << " has no solution";
        }
    }
}

TEST(LessonCatalog, FindByNumberAndName) {
    Catalog catalog(std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons");
    EXPECT_EQ(catalog.find("2").name, "02-container-process");
    EXPECT_EQ(catalog.find("02").name, "02-container-process");
    EXPECT_EQ(catalog.find("10-kernel-sharing").number, 10);
    EXPECT_THROW(catalog.find("42"), Error);
    EXPECT_THROW(catalog.find("no-such-lesson"), Error);
}

}  // namespace
}  // namespace isolab::lessons
