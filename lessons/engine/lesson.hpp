#pragma once
// The lesson model: one folder per lesson (NN-name/) holding lesson.md, the text a
// student reads, and tasks.yaml, the tasks whose checks say whether the student did
// them. load_lesson() validates tasks.yaml strictly: an unknown key or a value of the
// wrong type raises Error naming the file, the line and the key.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isolab::lessons {

// What an `isolab:` check expects of the command it runs. Every field that is set must
// hold; an expectation with no field set only requires the exit code 0.
struct Expectation {
    int exit_code = 0;
    std::vector<std::string> output_contains;   // substrings of stdout
    std::optional<std::string> output_matches;  // extended regex (grep -E) searched in stdout
    // The output parsed as JSON (an array, an object, or one object per line); at least
    // json_min_count elements must have every field of json_where equal to its value.
    std::map<std::string, std::string> json_where;
    std::optional<int> json_min_count;
    std::optional<int> json_max_count;
};

// A comparison of the student's answers (a YAML map in the project folder) with the
// values in a JSON file the student produced, such as the results of `isolab compare`.
struct AnswerQuestion {
    std::string key;        // key in the answers file
    // RFC 6901 JSON pointer into the results file, where a segment "field=value" (or
    // "a=x&b=y") applied to an array selects the first element with those fields.
    std::string pointer;
    double tolerance = 0;   // relative tolerance for numbers; 0 means an exact match
    double scale = 1;       // the answer times scale is compared (e.g. MB answers of byte values)
};

struct AnswersCheck {
    std::string answers_file;   // relative to the project folder
    std::string results_file;   // relative to the project folder
    std::vector<AnswerQuestion> questions;
};

struct Check {
    enum class Kind { isolab, shell, answers };
    Kind kind = Kind::shell;
    std::vector<std::string> isolab_arguments;  // Kind::isolab: arguments after `isolab`
    Expectation expect;                         // Kind::isolab
    std::string shell;                          // Kind::shell: script for /bin/sh -c
    AnswersCheck answers;                       // Kind::answers
};

struct Task {
    std::string id;
    std::string title;
    Check check;
    std::vector<std::string> needs;       // ids of earlier tasks that must be done first
    std::vector<std::string> hints;       // shown one at a time, in order
    std::optional<std::string> solution;  // shell script that does the task
    std::chrono::seconds timeout{120};    // for the check and the solution each
    int line = 0;                         // line of the task in tasks.yaml
};

struct Setup {
    std::vector<std::string> images;  // images the lesson needs in the store
    bool fresh_state = false;         // give the lesson its own empty state root
};

struct Lesson {
    std::filesystem::path folder;     // .../lessons/NN-name
    std::string name;                 // folder name, "NN-name"
    int number = 0;                   // NN
    std::string title;
    std::string summary;
    bool preview = false;             // status: preview
    std::vector<std::string> requires_features;
    Setup setup;
    std::vector<Task> tasks;

    std::filesystem::path text_path() const { return folder / "lesson.md"; }
    std::filesystem::path files_folder() const { return folder / "files"; }
    const Task* find_task(const std::string& id) const;
};

// Reads and validates folder/tasks.yaml. Throws Error "<file>:<line>: <problem>".
Lesson load_lesson(const std::filesystem::path& folder);

// Parses tasks.yaml content; `source` names the file in error messages.
Lesson parse_lesson(const std::string& yaml_text, const std::string& source);

}  // namespace isolab::lessons
