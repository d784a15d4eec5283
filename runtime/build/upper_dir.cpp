#include "runtime/build/upper_dir.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "runtime/core/error.hpp"

namespace isolab::build {

namespace fs = std::filesystem;

namespace {

using image::TarEntry;

struct Walk {
    std::vector<TarEntry> entries;
    std::vector<std::pair<std::pair<dev_t, ino_t>, TarEntry>> files;  // regular files with their inode
};

std::string parent_prefix(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void add_entry(Walk& walk, const fs::path& host, const std::string& path) {
    struct stat info {};
    if (lstat(host.c_str(), &info) != 0) throw_errno("cannot stat " + host.string());
    TarEntry entry;
    entry.path = path;
    entry.mode = info.st_mode & 07777;
    entry.uid = info.st_uid;
    entry.gid = info.st_gid;

    if (S_ISCHR(info.st_mode) && major(info.st_rdev) == 0 && minor(info.st_rdev) == 0) {
        walk.entries.push_back(TarEntry{TarEntry::Type::file, parent_prefix(path) + ".wh." + base_name(path), 0644, 0, 0, {}, {}, {}});
        return;
    }
    if (S_ISDIR(info.st_mode)) {
        entry.type = TarEntry::Type::directory;
        walk.entries.push_back(entry);
        char value[4] = {};
        if (lgetxattr(host.c_str(), "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y') {
            walk.entries.push_back(TarEntry{TarEntry::Type::file, path + "/.wh..wh..opq", 0644, 0, 0, {}, {}, {}});
        }
        return;
    }
    if (S_ISLNK(info.st_mode)) {
        entry.type = TarEntry::Type::symlink;
        entry.link_target = fs::read_symlink(host).string();
        walk.entries.push_back(entry);
        return;
    }
    if (S_ISREG(info.st_mode)) {
        entry.type = TarEntry::Type::file;
        entry.source = host;
        walk.files.emplace_back(std::make_pair(info.st_dev, info.st_ino), entry);
        return;
    }
    spdlog::warn("leaving {} out of the layer: FIFOs, sockets and devices are not stored", path);
}

void walk_folder(Walk& walk, const fs::path& folder, const std::string& prefix) {
    for (const auto& item : fs::directory_iterator(folder)) {
        std::string name = item.path().filename().string();
        std::string path = prefix.empty() ? name : prefix + "/" + name;
        add_entry(walk, item.path(), path);
        if (item.is_directory() && !item.is_symlink()) walk_folder(walk, item.path(), path);
    }
}

}  // namespace

std::vector<TarEntry> upper_dir_entries(const fs::path& upper_dir) {
    static const std::set<std::string> mount_points{"proc", "sys", "dev"};
    Walk walk;
    for (const auto& item : fs::directory_iterator(upper_dir)) {
        std::string name = item.path().filename().string();
        if (mount_points.count(name) && item.is_directory() && !item.is_symlink()) continue;
        add_entry(walk, item.path(), name);
        if (item.is_directory() && !item.is_symlink()) walk_folder(walk, item.path(), name);
    }

    // The layer lists entries sorted by path, so of several names of one inode the first
    // in that order carries the data and the others become hard links to it.
    std::sort(walk.files.begin(), walk.files.end(),
              [](const auto& a, const auto& b) { return a.second.path < b.second.path; });
    std::map<std::pair<dev_t, ino_t>, std::string> first_name;
    for (auto& [inode, entry] : walk.files) {
        auto [found, inserted] = first_name.emplace(inode, entry.path);
        if (!inserted) {
            entry.type = TarEntry::Type::hardlink;
            entry.link_target = found->second;
            entry.source.clear();
        }
        walk.entries.push_back(std::move(entry));
    }
    return std::move(walk.entries);
}

}  // namespace isolab::build
