#include "lessons/engine/checks.hpp"
#include "lessons/engine/pattern.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::lessons {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string first_line(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    }
    return {};
}

std::string trim(std::string text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return {};
    auto end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

// The elements of isolab's JSON output: the items of an array, one object, or one
// JSON value per line. Throws json::parse_error when the output is none of these.
std::vector<json> json_elements(const std::string& output) {
    if (trim(output).empty()) return {};
    try {
        auto value = json::parse(output);
        if (value.is_array()) return std::vector<json>(value.begin(), value.end());
        return {value};
    } catch (const json::parse_error&) {
        std::vector<json> elements;
        std::istringstream lines(output);
        std::string line;
        while (std::getline(lines, line)) {
            if (!trim(line).empty()) elements.push_back(json::parse(line));
        }
        return elements;
    }
}

// The field as text: a string as it is, any other value as JSON. A key starting with
// '/' is a JSON pointer.
std::optional<std::string> field_text(const json& element, const std::string& key) {
    const json* value = nullptr;
    if (!key.empty() && key.front() == '/') {
        auto pointer = json::json_pointer(key);
        if (!element.contains(pointer)) return std::nullopt;
        value = &element.at(pointer);
    } else {
        if (!element.is_object() || !element.contains(key)) return std::nullopt;
        value = &element.at(key);
    }
    return value->is_string() ? value->get<std::string>() : value->dump();
}

bool element_matches(const json& element, const std::map<std::string, std::string>& where) {
    for (const auto& [key, expected] : where) {
        auto actual = field_text(element, key);
        if (!actual || *actual != expected) return false;
    }
    return true;
}

std::string describe_where(const std::map<std::string, std::string>& where) {
    std::string text;
    for (const auto& [key, value] : where) text += (text.empty() ? "" : ", ") + key + "=" + value;
    return text.empty() ? "any entry" : text;
}

CheckOutcome check_json(const Expectation& expect, const std::string& output) {
    std::vector<json> elements;
    try {
        elements = json_elements(output);
    } catch (const json::exception& error) {
        return {false, "the output is not JSON: " + std::string(error.what())};
    }
    int count = 0;
    for (const auto& element : elements) count += element_matches(element, expect.json_where);

    int minimum = expect.json_min_count.value_or(expect.json_where.empty() && expect.json_max_count ? 0 : 1);
    if (count < minimum) {
        return {false, "found " + std::to_string(count) + " entries with " + describe_where(expect.json_where) +
                           ", expected at least " + std::to_string(minimum)};
    }
    if (expect.json_max_count && count > *expect.json_max_count) {
        return {false, "found " + std::to_string(count) + " entries with " + describe_where(expect.json_where) +
                           ", expected at most " + std::to_string(*expect.json_max_count)};
    }
    return {true, {}};
}

// Runs `command` through env(1), because run_command's extra_environment appends to the
// inherited environment and getenv() would still find an inherited ISOLAB_ROOT first.
CommandResult run_in_context(const CheckContext& context, const std::vector<std::string>& command,
                             std::chrono::seconds timeout) {
    std::vector<std::string> argv{"env"};
    for (const auto& variable : context.environment()) argv.push_back(variable);
    argv.insert(argv.end(), command.begin(), command.end());
    return run_command(argv, {.capture = true, .working_directory = context.project_dir.string(), .timeout = timeout});
}

CheckOutcome run_isolab_check(const Task& task, const CheckContext& context) {
    // stderr goes to /dev/null so warnings cannot corrupt JSON on stdout.
    std::vector<std::string> command{"/bin/sh", "-c", "exec \"$@\" 2>/dev/null", "sh", context.isolab_binary.string()};
    command.insert(command.end(), task.check.isolab_arguments.begin(), task.check.isolab_arguments.end());
    auto result = run_in_context(context, command, task.timeout);
    return evaluate_expectation(task.check.expect, result.exit_code, result.output);
}

CheckOutcome run_shell_check(const Task& task, const CheckContext& context) {
    auto result = run_in_context(context, {"/bin/sh", "-c", task.check.shell}, task.timeout);
    if (result.exit_code == 0) return {true, {}};
    auto reason = first_line(result.output);
    if (result.exit_code == 137) reason = "the check timed out after " + std::to_string(task.timeout.count()) + " s";
    return {false, reason};
}

std::optional<double> parse_number(const std::string& text) {
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
    return value;
}

bool answer_matches(const std::string& answer, const json& expected, const AnswerQuestion& question) {
    double tolerance = question.tolerance;
    if (expected.is_number()) {
        auto number = parse_number(answer);
        if (!number) return false;
        *number *= question.scale;
        double reference = expected.get<double>();
        double allowed = std::max(tolerance * std::fabs(reference), 1e-9 * std::max(1.0, std::fabs(reference)));
        return std::fabs(*number - reference) <= allowed;
    }
    std::string wanted = expected.is_string() ? expected.get<std::string>() : expected.dump();
    auto lower = [](std::string text) {
        for (auto& character : text) character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
        return text;
    };
    return lower(answer) == lower(trim(wanted));
}

std::string unescape_segment(std::string segment) {
    for (size_t at = segment.find("~1"); at != std::string::npos; at = segment.find("~1", at + 1)) segment.replace(at, 2, "/");
    for (size_t at = segment.find("~0"); at != std::string::npos; at = segment.find("~0", at + 1)) segment.replace(at, 2, "~");
    return segment;
}

// Selects the first array element whose fields match "a=x&b=y".
const json* select_element(const json& array, const std::string& selector) {
    std::map<std::string, std::string> wanted;
    std::istringstream conditions(selector);
    std::string condition;
    while (std::getline(conditions, condition, '&')) {
        auto equals = condition.find('=');
        wanted[condition.substr(0, equals)] = condition.substr(equals + 1);
    }
    for (const auto& element : array) {
        if (element_matches(element, wanted)) return &element;
    }
    return nullptr;
}

}  // namespace

const json* resolve_pointer(const json& document, const std::string& pointer) {
    const json* current = &document;
    std::istringstream segments(pointer.substr(pointer.empty() ? 0 : 1));
    std::string segment;
    while (current && std::getline(segments, segment, '/')) {
        segment = unescape_segment(segment);
        if (current->is_array() && segment.find('=') != std::string::npos) {
            current = select_element(*current, segment);
        } else if (current->is_array()) {
            bool digits = !segment.empty() && segment.find_first_not_of("0123456789") == std::string::npos;
            size_t index = digits ? std::stoul(segment) : current->size();
            current = index < current->size() ? &(*current)[index] : nullptr;
        } else if (current->is_object() && current->contains(segment)) {
            current = &current->at(segment);
        } else {
            current = nullptr;
        }
    }
    return current;
}

void write_answer_key(const AnswersCheck& answers, const fs::path& project_dir) {
    auto results = json::parse(read_file(project_dir / answers.results_file));
    auto answers_path = project_dir / answers.answers_file;
    // Several tasks may share one answers file: keep the answers of the others.
    YAML::Node key = fs::exists(answers_path) ? YAML::LoadFile(answers_path.string()) : YAML::Node(YAML::NodeType::Map);
    for (const auto& question : answers.questions) {
        const json* value = resolve_pointer(results, question.pointer);
        if (!value) throw Error(answers.results_file + " has no value at " + question.pointer);
        if (value->is_number()) {
            key[question.key] = value->get<double>() / question.scale;
        } else {
            key[question.key] = value->is_string() ? value->get<std::string>() : value->dump();
        }
    }
    YAML::Emitter emitter;
    emitter << key;
    write_file_atomic(answers_path, std::string(emitter.c_str()) + "\n");
}

std::vector<std::string> CheckContext::environment() const {
    const char* path = std::getenv("PATH");
    std::string search = isolab_binary.parent_path().string() + ":" + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    return {"ISOLAB_ROOT=" + paths.root.string(),   "ISOLAB_CACHE=" + paths.cache.string(),
            "ISOLAB=" + isolab_binary.string(),     "PROJECT_DIR=" + project_dir.string(),
            "LESSON_DIR=" + lesson_folder.string(), "PATH=" + search};
}

CheckOutcome evaluate_expectation(const Expectation& expect, int exit_code, const std::string& output) {
    if (exit_code != expect.exit_code) {
        return {false, "isolab exited with " + std::to_string(exit_code) + ", expected " + std::to_string(expect.exit_code)};
    }
    for (const auto& text : expect.output_contains) {
        if (output.find(text) == std::string::npos) return {false, "the output does not contain \"" + text + "\""};
    }
    if (expect.output_matches && !OutputPattern(*expect.output_matches).found_in(output)) {
        return {false, "the output does not match /" + *expect.output_matches + "/"};
    }
    if (!expect.json_where.empty() || expect.json_min_count || expect.json_max_count) return check_json(expect, output);
    return {true, {}};
}

CheckOutcome evaluate_answers(const AnswersCheck& answers, const fs::path& project_dir) {
    auto answers_path = project_dir / answers.answers_file;
    auto results_path = project_dir / answers.results_file;
    if (!fs::exists(results_path)) return {false, answers.results_file + " not found in " + project_dir.string()};
    if (!fs::exists(answers_path)) return {false, answers.answers_file + " not found in " + project_dir.string()};

    json results;
    YAML::Node given;
    try {
        results = json::parse(read_file(results_path));
        given = YAML::LoadFile(answers_path.string());
    } catch (const json::exception& error) {
        return {false, answers.results_file + " is not valid JSON: " + error.what()};
    } catch (const YAML::Exception& error) {
        return {false, answers.answers_file + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg};
    }
    if (!given.IsMap()) return {false, answers.answers_file + " must contain lines of the form key: value"};

    for (const auto& question : answers.questions) {
        const YAML::Node& map = given;
        auto answer = map[question.key];
        if (!answer || !answer.IsScalar() || trim(answer.as<std::string>()).empty()) {
            return {false, answers.answers_file + " has no answer for \"" + question.key + "\""};
        }
        const json* expected = resolve_pointer(results, question.pointer);
        if (!expected) return {false, answers.results_file + " has no value at " + question.pointer + " (make it again?)"};
        if (!answer_matches(trim(answer.as<std::string>()), *expected, question)) {
            return {false, "\"" + question.key + ": " + answer.as<std::string>() + "\" does not match " + answers.results_file};
        }
    }
    return {true, {}};
}

CheckOutcome run_check(const Task& task, const CheckContext& context) {
    spdlog::debug("lesson check {} in {}", task.id, context.project_dir.string());
    if (!fs::is_directory(context.project_dir)) {
        return {false, "project folder " + context.project_dir.string() + " is missing (run isolab lesson start again)"};
    }
    switch (task.check.kind) {
        case Check::Kind::isolab: return run_isolab_check(task, context);
        case Check::Kind::shell: return run_shell_check(task, context);
        case Check::Kind::answers: return evaluate_answers(task.check.answers, context.project_dir);
    }
    return {false, "unknown check kind"};
}

CommandResult run_solution(const Task& task, const CheckContext& context) {
    if (!task.solution) throw Error("task " + task.id + " has no solution script");
    spdlog::debug("lesson solution {} in {}", task.id, context.project_dir.string());
    return run_in_context(context, {"/bin/sh", "-e", "-c", *task.solution}, task.timeout);
}

}  // namespace isolab::lessons
