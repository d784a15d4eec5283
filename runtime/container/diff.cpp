#include "runtime/container/diff.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

bool is_whiteout(const fs::path& path) {
    struct stat info {};
    return lstat(path.c_str(), &info) == 0 && S_ISCHR(info.st_mode) && info.st_rdev == makedev(0, 0);
}

bool exists_in_lower(const fs::path& relative, const std::vector<fs::path>& lowerdirs) {
    for (const auto& lowerdir : lowerdirs) {
        std::error_code error;
        auto status = fs::symlink_status(lowerdir / relative, error);
        if (!error && status.type() != fs::file_type::not_found) {
            // A whiteout in a higher layer hides the name from the layers below it.
            return !is_whiteout(lowerdir / relative);
        }
    }
    return false;
}

}  // namespace

std::vector<FilesystemChange> filesystem_changes(const fs::path& upperdir, const std::vector<fs::path>& lowerdirs) {
    std::vector<FilesystemChange> changes;
    std::error_code error;
    fs::recursive_directory_iterator entry(upperdir, fs::directory_options::none, error);
    for (; !error && entry != fs::recursive_directory_iterator(); entry.increment(error)) {
        auto relative = entry->path().lexically_relative(upperdir);
        std::string path = "/" + relative.generic_string();
        if (is_whiteout(entry->path())) {
            changes.push_back({'D', path});
            continue;
        }
        changes.push_back({exists_in_lower(relative, lowerdirs) ? 'C' : 'A', path});
    }
    std::sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    return changes;
}

std::vector<FilesystemChange> container_changes(image::Store& store, const std::string& name_or_id) {
    auto container = require_container(store.paths(), name_or_id);
    auto image = store.find(container.config.image_id);
    if (!image) {
        throw Error("the image " + container.config.image + " of container " + container.config.name + " is gone",
                    "remove the container with 'isolab rm " + container.config.name + "'");
    }
    return filesystem_changes(container.paths.upperdir(), store.lowerdirs(*image));
}

std::string format_changes(const std::vector<FilesystemChange>& changes) {
    std::string text;
    for (const auto& change : changes) {
        text += change.kind;
        text += ' ';
        text += change.path;
        text += '\n';
    }
    return text;
}

}  // namespace isolab::container
