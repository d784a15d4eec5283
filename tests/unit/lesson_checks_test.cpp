#include <gtest/gtest.h>

#include <filesystem>

#include "lessons/engine/checks.hpp"
#include "lessons/engine/markdown.hpp"
#include "runtime/core/files.hpp"

namespace isolab::lessons {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* ps_output = R"([{"Names": "box1", "Image": "busybox", "State": "exited"},
 {"Names": "box2", "Image": "busybox", "State": "running"},
 {"Names": "web", "Image": "nginx", "State": "running", "Ports": {"http": 80}}])";

TEST(LessonExpectation, ExitCodeAndText) {
    Expectation expect;
    expect.output_contains = {"busybox"};
    expect.output_matches = "box[0-9]";
    EXPECT_TRUE(evaluate_expectation(expect, 0, ps_output).passed);
    EXPECT_FALSE(evaluate_expectation(expect, 1, ps_output).passed);
    EXPECT_FALSE(evaluate_expectation(expect, 0, "nothing here").passed);
    expect.exit_code = 1;
    EXPECT_TRUE(evaluate_expectation(expect, 1, ps_output).passed);
}

TEST(LessonExpectation, PatternIsGrepExtended) {
    Expectation expect;
    expect.output_matches = "^box[0-9]+$";
    EXPECT_TRUE(evaluate_expectation(expect, 0, "first line\nbox12\nlast\n").passed);
    EXPECT_FALSE(evaluate_expectation(expect, 0, "a box12\n").passed);
    expect.output_matches = "notes\\b";
    EXPECT_TRUE(evaluate_expectation(expect, 0, "notes volume\n").passed);
    EXPECT_FALSE(evaluate_expectation(expect, 0, "notesbook\n").passed);
}

TEST(LessonExpectation, PatternSearchesLongOutput) {
    std::string output(4 << 20, 'x');
    output += "\nthe end";
    Expectation expect;
    expect.output_matches = "x+\nthe (end|start)";
    EXPECT_TRUE(evaluate_expectation(expect, 0, output).passed);
    expect.output_matches = "^x*y$";
    EXPECT_FALSE(evaluate_expectation(expect, 0, output).passed);
}

TEST(LessonExpectation, PatternSeesPastNulBytes) {
    Expectation expect;
    expect.output_matches = "after";
    EXPECT_TRUE(evaluate_expectation(expect, 0, std::string("before\0after", 12)).passed);
}

TEST(LessonExpectation, JsonWhereCounts) {
    Expectation expect;
    expect.json_where = {{"Image", "busybox"}};
    EXPECT_TRUE(evaluate_expectation(expect, 0, ps_output).passed);
    expect.json_min_count = 3;
    auto outcome = evaluate_expectation(expect, 0, ps_output);
    EXPECT_FALSE(outcome.passed);
    EXPECT_NE(outcome.detail.find("found 2"), std::string::npos) << outcome.detail;

    expect.json_min_count = 0;
    expect.json_max_count = 1;
    EXPECT_FALSE(evaluate_expectation(expect, 0, ps_output).passed);

    Expectation pointer;
    pointer.json_where = {{"/Ports/http", "80"}, {"State", "running"}};
    EXPECT_TRUE(evaluate_expectation(pointer, 0, ps_output).passed);
}

TEST(LessonExpectation, JsonLinesAndEmptyOutput) {
    Expectation expect;
    expect.json_where = {{"Names", "box2"}};
    EXPECT_TRUE(evaluate_expectation(expect, 0, "{\"Names\": \"box1\"}\n{\"Names\": \"box2\"}\n").passed);
    EXPECT_FALSE(evaluate_expectation(expect, 0, "").passed);
    EXPECT_FALSE(evaluate_expectation(expect, 0, "not json").passed);

    Expectation none;
    none.json_max_count = 0;
    EXPECT_TRUE(evaluate_expectation(none, 0, "[]").passed);
    EXPECT_FALSE(evaluate_expectation(none, 0, "[{}]").passed);
}

const char* results_json = R"({"schema_version": 1,
 "paths": [{"name": "container", "kernel": "6.18.0", "figures": {"startup_ms": {"summary": {"median": 40.0}}}},
           {"name": "vm", "kernel": "6.1.0-57-amd64", "accelerator": {"used": "tcg"},
            "figures": {"startup_ms": {"summary": {"median": 4000.0}},
                        "memory_peak_bytes": {"summary": {"median": 180400000}}}}],
 "ratios": [{"figure": "startup_ms", "path": "crun", "reference": "container", "value": 2.0},
            {"figure": "startup_ms", "path": "vm", "reference": "container", "value": 100.0}]})";

TEST(LessonAnswers, PointerSelectors) {
    auto document = json::parse(results_json);
    const json* median = resolve_pointer(document, "/paths/name=vm/figures/startup_ms/summary/median");
    ASSERT_NE(median, nullptr);
    EXPECT_DOUBLE_EQ(median->get<double>(), 4000.0);
    const json* ratio = resolve_pointer(document, "/ratios/figure=startup_ms&path=vm&reference=container/value");
    ASSERT_NE(ratio, nullptr);
    EXPECT_DOUBLE_EQ(ratio->get<double>(), 100.0);
    const json* by_index = resolve_pointer(document, "/paths/0/kernel");
    ASSERT_NE(by_index, nullptr);
    EXPECT_EQ(by_index->get<std::string>(), "6.18.0");
    EXPECT_EQ(resolve_pointer(document, "/paths/name=podman/kernel"), nullptr);
    EXPECT_EQ(resolve_pointer(document, "/paths/7"), nullptr);
    EXPECT_EQ(resolve_pointer(document, "/missing"), nullptr);
}

class AnswersFolder : public ::testing::Test {
protected:
    AnswersFolder() : folder_(fs::temp_directory_path(), "isolab-answers-") {
        write_file_atomic(folder_.path() / "results.json", results_json);
        check_.answers_file = "answers.yaml";
        check_.results_file = "results.json";
        check_.questions = {{"vm_startup_ms", "/paths/name=vm/figures/startup_ms/summary/median", 0.1, 1},
                            {"vm_memory_mb", "/paths/name=vm/figures/memory_peak_bytes/summary/median", 0.15, 1e6},
                            {"vm_kernel", "/paths/name=vm/kernel", 0, 1}};
    }
    void answer(const std::string& yaml) { write_file_atomic(folder_.path() / "answers.yaml", yaml); }
    TemporaryDirectory folder_;
    AnswersCheck check_;
};

TEST_F(AnswersFolder, CorrectWithinTolerance) {
    answer("vm_startup_ms: 3700\nvm_memory_mb: 180.4\nvm_kernel: 6.1.0-57-AMD64\n");
    auto outcome = evaluate_answers(check_, folder_.path());
    EXPECT_TRUE(outcome.passed) << outcome.detail;
}

TEST_F(AnswersFolder, WrongOrMissingAnswersFail) {
    answer("vm_startup_ms: 3000\nvm_memory_mb: 180.4\nvm_kernel: 6.1.0-57-amd64\n");
    auto outside = evaluate_answers(check_, folder_.path());
    EXPECT_FALSE(outside.passed);
    EXPECT_NE(outside.detail.find("vm_startup_ms"), std::string::npos) << outside.detail;

    answer("vm_startup_ms: 4000\nvm_kernel: 6.1.0-57-amd64\n");
    auto missing = evaluate_answers(check_, folder_.path());
    EXPECT_FALSE(missing.passed);
    EXPECT_NE(missing.detail.find("vm_memory_mb"), std::string::npos) << missing.detail;

    answer("vm_startup_ms: fast\nvm_memory_mb: 180\nvm_kernel: 6.1.0-57-amd64\n");
    EXPECT_FALSE(evaluate_answers(check_, folder_.path()).passed);

    fs::remove(folder_.path() / "answers.yaml");
    EXPECT_FALSE(evaluate_answers(check_, folder_.path()).passed);
}

TEST_F(AnswersFolder, AnswerKeyPassesAndKeepsOtherAnswers) {
    answer("note: kept\n");
    write_answer_key(check_, folder_.path());
    auto outcome = evaluate_answers(check_, folder_.path());
    EXPECT_TRUE(outcome.passed) << outcome.detail << "\n" << read_file(folder_.path() / "answers.yaml");
    EXPECT_NE(read_file(folder_.path() / "answers.yaml").find("note: kept"), std::string::npos);
}

TEST(LessonMarkdown, CommandsFromShellBlocksOnly) {
    const char* text = R"(# Title
```sh
isolab run --rm busybox uname -r
# a comment
cat file.txt

isolab vm run busybox \
  uname -r
```
```text
isolab not-a-command shown as output
```
```bash
sudo -E isolab lesson list
```
)";
    auto commands = fenced_commands(text);
    ASSERT_EQ(commands.size(), 4u);
    EXPECT_EQ(commands[0].command, "isolab run --rm busybox uname -r");
    EXPECT_EQ(commands[0].line, 3);
    EXPECT_EQ(commands[1].command, "cat file.txt");
    EXPECT_EQ(commands[2].command, "isolab vm run busybox  uname -r");
    EXPECT_EQ(commands[2].line, 7);
    EXPECT_EQ(commands[3].command, "sudo -E isolab lesson list");

    EXPECT_EQ(isolab_subcommand(commands[0].command), std::vector<std::string>{"run"});
    EXPECT_EQ(isolab_subcommand(commands[2].command), (std::vector<std::string>{"vm", "run"}));
    EXPECT_EQ(isolab_subcommand(commands[3].command), (std::vector<std::string>{"lesson", "list"}));
    EXPECT_TRUE(isolab_subcommand(commands[1].command).empty());
    EXPECT_EQ(isolab_subcommand("ISOLAB_ROOT=/tmp/x isolab images"), std::vector<std::string>{"images"});
}

}  // namespace
}  // namespace isolab::lessons
