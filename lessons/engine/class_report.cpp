#include "lessons/engine/class_report.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::lessons {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string escape_html(const std::string& text) {
    std::string escaped;
    for (char character : text) {
        switch (character) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&#39;"; break;
            default: escaped += character;
        }
    }
    return escaped;
}

void validate_record(const json& record, const std::string& source) {
    auto invalid = [&](const std::string& problem) {
        return Error(source + ": " + problem, "give each student's `isolab lesson check --all --json` output its own file");
    };
    if (!record.is_object() || record.value("format", "") != "isolab-lesson-record") throw invalid("not an isolab lesson record");
    if (record.value("version", 0) != 1) throw invalid("unsupported record version (expected 1)");
    if (!record.contains("student") || !record["student"].is_string()) throw invalid("missing \"student\"");
    if (!record.contains("lessons") || !record["lessons"].is_array()) throw invalid("missing \"lessons\" list");
    for (const auto& lesson : record["lessons"]) {
        if (!lesson.is_object() || !lesson.contains("name") || !lesson.contains("tasks") || !lesson["tasks"].is_array()) {
            throw invalid("a lesson entry lacks \"name\" or \"tasks\"");
        }
    }
}

struct LessonColumn {
    int number = 0;
    std::string title;
};

// Every lesson named by any record, in lesson order.
std::map<std::string, LessonColumn> lesson_columns(const std::vector<json>& records) {
    std::map<std::string, LessonColumn> columns;
    for (const auto& record : records) {
        for (const auto& lesson : record["lessons"]) {
            columns[lesson["name"].get<std::string>()] = {lesson.value("number", 0), lesson.value("title", "")};
        }
    }
    return columns;
}

std::string task_summary(const json& lesson) {
    std::string summary;
    for (const auto& task : lesson["tasks"]) {
        summary += task.value("id", "?") + ": " + task.value("state", "?");
        if (!task.value("done_at", "").empty()) summary += " at " + task.value("done_at", "");
        summary += ", hints " + std::to_string(task.value("hints_shown", 0)) + "\n";
    }
    return summary;
}

std::string lesson_cell(const json* lesson) {
    if (!lesson) return "<td class=\"none\">-</td>";
    int done = 0;
    int hints = 0;
    for (const auto& task : (*lesson)["tasks"]) {
        done += task.value("state", "") == "done";
        hints += task.value("hints_shown", 0);
    }
    auto status = lesson->value("status", "");
    int total = static_cast<int>((*lesson)["tasks"].size());
    std::string css = status == "complete" ? "complete" : done > 0 || status == "in progress" ? "partial" : "none";
    if (status == "coming") css = "coming";

    std::ostringstream cell;
    cell << "<td class=\"" << css << "\" title=\"" << escape_html(task_summary(*lesson)) << "\">";
    cell << done << "/" << total;
    if (hints > 0) cell << " <small>(" << hints << " hints)</small>";
    if (!lesson->value("completed_at", "").empty()) cell << "<br><small>" << escape_html(lesson->value("completed_at", "")) << "</small>";
    cell << "</td>";
    return cell.str();
}

const json* find_lesson(const json& record, const std::string& name) {
    for (const auto& lesson : record["lessons"]) {
        if (lesson["name"] == name) return &lesson;
    }
    return nullptr;
}

constexpr const char* page_style = R"(body{font-family:sans-serif;margin:2em}
table{border-collapse:collapse}th,td{border:1px solid #999;padding:.3em .6em;text-align:center}
th.student,td.student{text-align:left}.complete{background:#b7e4b0}.partial{background:#fbe7a1}
.none{background:#f3f3f3}.coming{background:#dde3ea;color:#666}small{color:#555})";

}  // namespace

std::vector<json> load_class_records(const fs::path& folder) {
    if (!fs::is_directory(folder)) throw Error("class folder " + folder.string() + " not found", "pass the folder holding the students' JSON records");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error("no *.json records in " + folder.string(), "collect each student's `isolab lesson check --all --json` output there");

    std::vector<json> records;
    for (const auto& file : files) {
        json record;
        try {
            record = json::parse(read_file(file));
        } catch (const json::exception& error) {
            throw Error(file.string() + ": invalid JSON: " + error.what(), "give each student's record its own file");
        }
        validate_record(record, file.string());
        records.push_back(std::move(record));
    }
    return records;
}

std::string render_class_report(const std::vector<json>& records) {
    auto columns = lesson_columns(records);
    std::vector<const json*> sorted;
    for (const auto& record : records) sorted.push_back(&record);
    std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) { return (*a)["student"] < (*b)["student"]; });

    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>isolab class report</title>\n"
         << "<style>" << page_style << "</style></head><body>\n"
         << "<h1>isolab class report</h1>\n<p>" << records.size() << " students. Each cell shows tasks done / tasks; "
         << "hover over a cell for the tasks and their times.</p>\n<table>\n<tr><th class=\"student\">Student</th>";
    for (const auto& [name, column] : columns) {
        html << "<th title=\"" << escape_html(name) << "\">" << column.number << "<br><small>" << escape_html(column.title) << "</small></th>";
    }
    html << "<th>Record made</th></tr>\n";

    for (const json* record : sorted) {
        html << "<tr><td class=\"student\">" << escape_html((*record)["student"].get<std::string>()) << "</td>";
        for (const auto& [name, column] : columns) html << lesson_cell(find_lesson(*record, name));
        html << "<td><small>" << escape_html(record->value("generated_at", "")) << "</small></td></tr>\n";
    }
    html << "</table>\n</body></html>\n";
    return html.str();
}

std::string class_report_html(const fs::path& folder) {
    return render_class_report(load_class_records(folder));
}

}  // namespace isolab::lessons
