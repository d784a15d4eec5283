#include "lessons/engine/lesson.hpp"

#include <algorithm>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include "lessons/engine/features.hpp"
#include "lessons/engine/pattern.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::lessons {

namespace {

// Reads one YAML map, rejecting keys it does not list and values of the wrong type.
// Every error names the file, the 1-based line and the key.
class MapReader {
public:
    MapReader(const YAML::Node& node, std::string source, std::string what, std::set<std::string> allowed)
        : node_(node), source_(std::move(source)), what_(std::move(what)) {
        if (!node.IsMap()) fail(node, what_ + " must be a map of keys to values");
        for (const auto& entry : node) {
            // An explicit YAML key (`? ...`) may be a list or a map, which names nothing here.
            if (!entry.first.IsScalar()) fail(entry.first, "a key in " + what_ + " must be a plain name");
            auto key = entry.first.as<std::string>();
            if (!allowed.count(key)) fail(entry.first, "unknown key \"" + key + "\" in " + what_ + " (allowed: " + join(allowed) + ")");
        }
    }

    bool has(const std::string& key) const { return static_cast<bool>(lookup(key)); }
    YAML::Node get(const std::string& key) const { return lookup(key); }

    std::string string(const std::string& key, bool required) const {
        auto value = lookup(key);
        if (!value) {
            if (required) fail(node_, "missing key \"" + key + "\" in " + what_);
            return {};
        }
        if (!value.IsScalar()) fail(value, "key \"" + key + "\" must be a string");
        return value.as<std::string>();
    }

    std::vector<std::string> strings(const std::string& key) const {
        std::vector<std::string> items;
        auto value = lookup(key);
        if (!value) return items;
        if (!value.IsSequence()) fail(value, "key \"" + key + "\" must be a list of strings");
        for (const auto& item : value) {
            if (!item.IsScalar()) fail(item, "each item of \"" + key + "\" must be a string");
            items.push_back(item.as<std::string>());
        }
        return items;
    }

    std::optional<long> integer(const std::string& key, long minimum, long maximum) const {
        auto value = lookup(key);
        if (!value) return std::nullopt;
        long number = 0;
        if (!value.IsScalar() || !YAML::convert<long>::decode(value, number)) {
            fail(value, "key \"" + key + "\" must be an integer");
        }
        if (number < minimum || number > maximum) {
            fail(value, "key \"" + key + "\" must be between " + std::to_string(minimum) + " and " + std::to_string(maximum));
        }
        return number;
    }

    std::optional<double> number(const std::string& key) const {
        auto value = lookup(key);
        if (!value) return std::nullopt;
        double result = 0;
        if (!value.IsScalar() || !YAML::convert<double>::decode(value, result)) fail(value, "key \"" + key + "\" must be a number");
        return result;
    }

    std::optional<bool> boolean(const std::string& key) const {
        auto value = lookup(key);
        if (!value) return std::nullopt;
        bool result = false;
        if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) fail(value, "key \"" + key + "\" must be true or false");
        return result;
    }

    [[noreturn]] void fail(const YAML::Node& at, const std::string& problem) const {
        throw Error(source_ + ":" + std::to_string(at.Mark().line + 1) + ": " + problem, "see lessons/README.md for the tasks.yaml format");
    }

private:
    // The const operator[] never inserts a key into the node.
    YAML::Node lookup(const std::string& key) const {
        const YAML::Node& node = node_;
        return node[key];
    }

    static std::string join(const std::set<std::string>& words) {
        std::string joined;
        for (const auto& word : words) joined += (joined.empty() ? "" : ", ") + word;
        return joined;
    }

    YAML::Node node_;
    std::string source_;
    std::string what_;
};

Expectation parse_expectation(const YAML::Node& node, const std::string& source) {
    MapReader reader(node, source, "expect",
                     {"exit_code", "output_contains", "output_matches", "json_where", "json_min_count", "json_max_count"});
    Expectation expect;
    if (auto code = reader.integer("exit_code", 0, 255)) expect.exit_code = static_cast<int>(*code);
    expect.output_contains = reader.strings("output_contains");
    if (reader.has("output_matches")) {
        expect.output_matches = reader.string("output_matches", true);
        try {
            OutputPattern compiled(*expect.output_matches);
        } catch (const Error& error) {
            reader.fail(reader.get("output_matches"), "invalid regular expression in \"output_matches\": " + std::string(error.what()));
        }
    }
    if (reader.has("json_where")) {
        auto where = reader.get("json_where");
        if (!where.IsMap()) reader.fail(where, "key \"json_where\" must be a map of field names to values");
        for (const auto& entry : where) {
            if (!entry.second.IsScalar()) reader.fail(entry.second, "each value of \"json_where\" must be a string or number");
            expect.json_where[entry.first.as<std::string>()] = entry.second.as<std::string>();
        }
    }
    if (auto count = reader.integer("json_min_count", 0, 1000000)) expect.json_min_count = static_cast<int>(*count);
    if (auto count = reader.integer("json_max_count", 0, 1000000)) expect.json_max_count = static_cast<int>(*count);
    return expect;
}

AnswersCheck parse_answers(const YAML::Node& node, const std::string& source) {
    MapReader reader(node, source, "answers", {"file", "results", "questions"});
    AnswersCheck answers;
    answers.answers_file = reader.string("file", true);
    answers.results_file = reader.string("results", true);
    auto questions = reader.get("questions");
    if (!questions || !questions.IsSequence() || questions.size() == 0) {
        reader.fail(questions ? questions : node, "key \"questions\" must be a non-empty list");
    }
    for (const auto& question_node : questions) {
        MapReader question(question_node, source, "question", {"key", "pointer", "tolerance", "scale"});
        AnswerQuestion item;
        item.key = question.string("key", true);
        item.pointer = question.string("pointer", true);
        if (item.pointer.empty() || item.pointer.front() != '/') {
            question.fail(question.get("pointer"), "\"pointer\" must be a JSON pointer starting with /");
        }
        if (auto tolerance = question.number("tolerance")) item.tolerance = *tolerance;
        if (auto scale = question.number("scale")) item.scale = *scale;
        if (item.tolerance < 0 || item.scale <= 0) question.fail(question_node, "\"tolerance\" must be >= 0 and \"scale\" > 0");
        answers.questions.push_back(item);
    }
    return answers;
}

Check parse_check(const YAML::Node& node, const std::string& source) {
    MapReader reader(node, source, "check", {"isolab", "expect", "shell", "answers"});
    int kinds = reader.has("isolab") + reader.has("shell") + reader.has("answers");
    if (kinds != 1) reader.fail(node, "a check needs exactly one of \"isolab\", \"shell\" or \"answers\"");

    Check check;
    if (reader.has("isolab")) {
        check.kind = Check::Kind::isolab;
        check.isolab_arguments = reader.strings("isolab");
        if (check.isolab_arguments.empty()) reader.fail(reader.get("isolab"), "key \"isolab\" must list at least one argument");
        if (reader.has("expect")) check.expect = parse_expectation(reader.get("expect"), source);
        return check;
    }
    if (reader.has("expect")) reader.fail(reader.get("expect"), "key \"expect\" belongs to an \"isolab\" check only");
    if (reader.has("shell")) {
        check.kind = Check::Kind::shell;
        check.shell = reader.string("shell", true);
        return check;
    }
    check.kind = Check::Kind::answers;
    check.answers = parse_answers(reader.get("answers"), source);
    return check;
}

Task parse_task(const YAML::Node& node, const std::string& source, const std::set<std::string>& earlier_ids) {
    MapReader reader(node, source, "task", {"id", "title", "check", "needs", "hints", "solution", "timeout"});
    Task task;
    task.line = node.Mark().line + 1;
    task.id = reader.string("id", true);
    // A character test, not std::regex, which recurses once per character of a long id.
    auto id_character = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
    bool valid_id = !task.id.empty() && task.id.front() != '-' && std::all_of(task.id.begin(), task.id.end(), id_character);
    if (!valid_id) {
        reader.fail(reader.get("id"), "task id \"" + printable(task.id) + "\" must use a-z, 0-9 and -, and not start with -");
    }
    if (earlier_ids.count(task.id)) reader.fail(reader.get("id"), "duplicate task id \"" + task.id + "\"");
    task.title = reader.string("title", true);

    if (!reader.has("check")) reader.fail(node, "missing key \"check\" in task \"" + task.id + "\"");
    task.check = parse_check(reader.get("check"), source);

    task.needs = reader.strings("needs");
    for (const auto& need : task.needs) {
        if (!earlier_ids.count(need)) reader.fail(reader.get("needs"), "task \"" + task.id + "\" needs \"" + need + "\", which is not an earlier task");
    }
    task.hints = reader.strings("hints");
    if (task.hints.empty()) reader.fail(node, "task \"" + task.id + "\" needs at least one entry under \"hints\"");
    if (reader.has("solution")) task.solution = reader.string("solution", true);
    if (auto seconds = reader.integer("timeout", 1, 3600)) task.timeout = std::chrono::seconds(*seconds);
    return task;
}

Setup parse_setup(const YAML::Node& node, const std::string& source) {
    MapReader reader(node, source, "setup", {"images", "fresh_state"});
    Setup setup;
    setup.images = reader.strings("images");
    if (auto fresh = reader.boolean("fresh_state")) setup.fresh_state = *fresh;
    return setup;
}

}  // namespace

const Task* Lesson::find_task(const std::string& id) const {
    for (const auto& task : tasks) {
        if (task.id == id) return &task;
    }
    return nullptr;
}

Lesson parse_lesson(const std::string& yaml_text, const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& error) {
        throw Error(source + ":" + std::to_string(error.mark.line + 1) + ": invalid YAML: " + error.msg,
                    "see lessons/README.md for the tasks.yaml format");
    }

    MapReader reader(root, source, "tasks.yaml", {"title", "summary", "status", "requires", "setup", "tasks"});
    Lesson lesson;
    lesson.title = reader.string("title", true);
    lesson.summary = reader.string("summary", false);
    auto status = reader.string("status", false);
    if (!status.empty() && status != "ready" && status != "preview") {
        reader.fail(reader.get("status"), "key \"status\" must be \"ready\" or \"preview\", not \"" + status + "\"");
    }
    lesson.preview = status == "preview";

    lesson.requires_features = reader.strings("requires");
    for (const auto& feature : lesson.requires_features) {
        if (!known_features().count(feature)) reader.fail(reader.get("requires"), "unknown feature \"" + feature + "\" in \"requires\"");
    }
    if (reader.has("setup")) lesson.setup = parse_setup(reader.get("setup"), source);

    auto tasks = reader.get("tasks");
    if (!tasks || !tasks.IsSequence() || tasks.size() == 0) reader.fail(tasks ? tasks : root, "key \"tasks\" must be a non-empty list");
    std::set<std::string> ids;
    for (const auto& task_node : tasks) {
        lesson.tasks.push_back(parse_task(task_node, source, ids));
        ids.insert(lesson.tasks.back().id);
    }
    return lesson;
}

Lesson load_lesson(const std::filesystem::path& folder) {
    auto name = folder.filename().string();
    static const std::regex folder_pattern("([0-9]{2})-[a-z0-9-]+");
    std::smatch match;
    if (!std::regex_match(name, match, folder_pattern)) {
        throw Error("lesson folder " + folder.string() + " is not named NN-name", "rename it, e.g. 01-first-lesson");
    }

    auto file = folder / "tasks.yaml";
    auto lesson = parse_lesson(read_file(file), file.string());
    lesson.folder = folder;
    lesson.name = name;
    lesson.number = std::stoi(match[1].str());
    return lesson;
}

}  // namespace isolab::lessons
