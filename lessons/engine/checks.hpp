#pragma once
// Running a task's check (and, for tests and instructors, its solution) against the
// real state: isolab's own output, or files and processes the student made.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lessons/engine/lesson.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/core/process.hpp"

namespace isolab::lessons {

// The place and environment of a check: the working directory is the project folder, and
// the environment carries ISOLAB_ROOT, ISOLAB_CACHE, ISOLAB (the binary), PROJECT_DIR,
// LESSON_DIR and a PATH that finds this isolab first.
struct CheckContext {
    std::filesystem::path isolab_binary;
    Paths paths;                          // the state root the lesson uses
    std::filesystem::path project_dir;
    std::filesystem::path lesson_folder;

    std::vector<std::string> environment() const;
};

struct CheckOutcome {
    bool passed = false;
    std::string detail;  // why it failed, in one line; empty when it passed
};

CheckOutcome run_check(const Task& task, const CheckContext& context);

// Runs the task's solution script with /bin/sh -c in the project folder. Throws Error
// when the task has no solution.
CommandResult run_solution(const Task& task, const CheckContext& context);

// The parts of run_check that need no process, for unit tests.
CheckOutcome evaluate_expectation(const Expectation& expect, int exit_code, const std::string& output);
CheckOutcome evaluate_answers(const AnswersCheck& answers, const std::filesystem::path& project_dir);

// Resolves an AnswerQuestion pointer (RFC 6901 plus "field=value" array selectors).
// Returns nullptr when nothing is there.
const nlohmann::json* resolve_pointer(const nlohmann::json& document, const std::string& pointer);

// Writes the answers file with the values from the results file: the answer key, which
// `lesson solve` uses for an answers task without a solution script.
void write_answer_key(const AnswersCheck& answers, const std::filesystem::path& project_dir);

}  // namespace isolab::lessons
