#include "lessons/engine/catalog.hpp"

#include <algorithm>
#include <cstdlib>
#include <regex>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::lessons {

namespace fs = std::filesystem;

fs::path default_lessons_folder() {
    if (const char* configured = std::getenv("ISOLAB_LESSONS"); configured && *configured) return configured;
    auto installed = executable_directory() / ".." / "share" / "isolab" / "lessons";
    if (fs::is_directory(installed)) return fs::weakly_canonical(installed);
    return ISOLAB_LESSONS_SOURCE_DIR;
}

Catalog::Catalog(fs::path folder) : folder_(std::move(folder)) {
    if (!fs::is_directory(folder_)) {
        throw Error("lessons folder " + folder_.string() + " not found", "set ISOLAB_LESSONS to the folder holding the lesson folders");
    }
    static const std::regex lesson_folder("[0-9]{2}-[a-z0-9-]+");
    for (const auto& entry : fs::directory_iterator(folder_)) {
        auto name = entry.path().filename().string();
        if (!entry.is_directory() || !std::regex_match(name, lesson_folder)) continue;
        lessons_.push_back(load_lesson(entry.path()));
    }
    std::sort(lessons_.begin(), lessons_.end(), [](const Lesson& a, const Lesson& b) { return a.name < b.name; });
    spdlog::debug("lessons: {} lessons in {}", lessons_.size(), folder_.string());
}

const Lesson& Catalog::find(const std::string& reference) const {
    static const std::regex number_pattern("[0-9]{1,2}");
    bool by_number = std::regex_match(reference, number_pattern);
    for (const auto& lesson : lessons_) {
        if (by_number ? lesson.number == std::stoi(reference) : lesson.name == reference) return lesson;
    }
    std::string known;
    for (const auto& lesson : lessons_) known += (known.empty() ? "" : ", ") + std::to_string(lesson.number);
    throw Error("lesson " + reference + " not found", "lessons are numbered " + known + "; see: isolab lesson list");
}

}  // namespace isolab::lessons
