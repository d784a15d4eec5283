#pragma once
// The instructor's view of a class: the students' records (`isolab lesson check --all
// --json`, one JSON file per student) merged into one self-contained HTML page with a
// row per student and a column per lesson.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace isolab::lessons {

// Reads every *.json file in `folder` as a student record. Throws Error naming the
// file when one is not a record (format "isolab-lesson-record", version 1), and when
// the folder holds no record at all.
std::vector<nlohmann::json> load_class_records(const std::filesystem::path& folder);

// Renders the records as one HTML document with inline CSS and no external resources.
std::string render_class_report(const std::vector<nlohmann::json>& records);

// load_class_records + render_class_report, for `isolab report --class DIR`.
std::string class_report_html(const std::filesystem::path& folder);

}  // namespace isolab::lessons
