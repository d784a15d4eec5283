#pragma once
// The catalog: every lesson folder (NN-name) under the lessons folder, in number order.
#include <filesystem>
#include <string>
#include <vector>

#include "lessons/engine/lesson.hpp"

namespace isolab::lessons {

// The lessons folder: $ISOLAB_LESSONS when set, else <executable dir>/../share/isolab/
// lessons when it exists, else the lessons/ folder of the source tree isolab was built from.
std::filesystem::path default_lessons_folder();

class Catalog {
public:
    // Loads and validates every lesson under `folder`. Throws Error on the first invalid one.
    explicit Catalog(std::filesystem::path folder);

    const std::vector<Lesson>& lessons() const { return lessons_; }
    const std::filesystem::path& folder() const { return folder_; }

    // Finds a lesson by number ("2", "02") or folder name ("02-container-process").
    // Throws Error listing what exists when nothing matches.
    const Lesson& find(const std::string& reference) const;

private:
    std::filesystem::path folder_;
    std::vector<Lesson> lessons_;
};

}  // namespace isolab::lessons
