#include "vmdriver/guest/merged_tree.hpp"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::vm::guest {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view whiteout_prefix = ".wh.";
constexpr std::string_view opaque_marker = ".wh..wh..opq";

bool is_whiteout_device(const struct stat& info) {
    return S_ISCHR(info.st_mode) && info.st_rdev == makedev(0, 0);
}

bool has_opaque_xattr(const fs::path& folder) {
    for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
        char value[2] = {};
        if (lgetxattr(folder.c_str(), name, value, sizeof value) == 1 && value[0] == 'y') return true;
    }
    return false;
}

std::string parent_of(const std::string& relative) {
    auto slash = relative.rfind('/');
    return slash == std::string::npos ? std::string{} : relative.substr(0, slash);
}

std::string join(const std::string& parent, std::string_view name) {
    return parent.empty() ? std::string(name) : parent + "/" + std::string(name);
}

struct LayerEntry {
    std::string relative;
    fs::path source;
    struct stat info {};
};

std::vector<LayerEntry> list_layer(const fs::path& layer) {
    std::vector<LayerEntry> entries;
    if (!fs::is_directory(layer)) throw Error("layer folder " + layer.string() + " does not exist");
    for (auto it = fs::recursive_directory_iterator(layer); it != fs::recursive_directory_iterator(); ++it) {
        LayerEntry entry;
        entry.source = it->path();
        entry.relative = it->path().lexically_relative(layer).string();
        if (lstat(entry.source.c_str(), &entry.info) != 0) throw_errno("cannot stat " + entry.source.string());
        entries.push_back(std::move(entry));
    }
    return entries;
}

void copy_regular_file(const fs::path& source, const fs::path& target, mode_t mode) {
    int input = open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (input < 0) throw_errno("cannot open " + source.string());
    int output = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (output < 0) {
        int saved = errno;
        close(input);
        throw_errno(saved, "cannot create " + target.string());
    }
    ssize_t copied;
    while ((copied = copy_file_range(input, nullptr, output, nullptr, 1 << 30, 0)) > 0) {
    }
    int saved = errno;
    close(input);
    close(output);
    if (copied < 0) throw_errno(saved, "cannot copy " + source.string() + " to " + target.string());
}

}  // namespace

void MergedTree::erase_below(const std::string& relative) {
    if (relative.empty()) {
        entries_.clear();
        return;
    }
    std::string prefix = relative + "/";
    auto it = entries_.lower_bound(prefix);
    while (it != entries_.end() && it->first.starts_with(prefix)) it = entries_.erase(it);
}

void MergedTree::erase(const std::string& relative) {
    entries_.erase(relative);
    erase_below(relative);
}

void MergedTree::apply_layer(const fs::path& layer) {
    auto entries = list_layer(layer);

    // Removals first: within one layer a whiteout never hides that layer's own entries,
    // whatever order the folder listing returns them in.
    for (const auto& entry : entries) {
        std::string name = entry.source.filename().string();
        std::string parent = parent_of(entry.relative);
        if (name == opaque_marker) {
            erase_below(parent);
        } else if (name.starts_with(whiteout_prefix)) {
            erase(join(parent, std::string_view(name).substr(whiteout_prefix.size())));
        } else if (is_whiteout_device(entry.info)) {
            erase(entry.relative);
        } else if (S_ISDIR(entry.info.st_mode) && has_opaque_xattr(entry.source)) {
            erase_below(entry.relative);
        }
    }

    for (auto& entry : entries) {
        std::string name = entry.source.filename().string();
        if (name.starts_with(whiteout_prefix) || is_whiteout_device(entry.info)) continue;
        auto existing = entries_.find(entry.relative);
        bool replaces_folder = existing != entries_.end() && S_ISDIR(existing->second.info.st_mode);
        if (replaces_folder && !S_ISDIR(entry.info.st_mode)) erase_below(entry.relative);
        entries_[entry.relative] = MergedEntry{std::move(entry.source), entry.info};
    }
}

MergedTree MergedTree::merge(const std::vector<fs::path>& lowerdirs) {
    MergedTree tree;
    for (auto layer = lowerdirs.rbegin(); layer != lowerdirs.rend(); ++layer) tree.apply_layer(*layer);
    spdlog::debug("merged {} layers: {} entries", lowerdirs.size(), tree.entries_.size());
    return tree;
}

MergedTree MergedTree::merge_path(const std::vector<fs::path>& lowerdirs, const std::string& relative) {
    MergedTree tree;
    fs::path path(relative);
    for (const auto& layer : lowerdirs) {
        // A whiteout or an opaque folder on the way down ends the search in lower layers.
        bool stop = false;
        fs::path prefix;
        for (const auto& component : path) {
            fs::path whiteout = layer / prefix / (std::string(whiteout_prefix) + component.string());
            struct stat info {};
            if (lstat(whiteout.c_str(), &info) == 0) return tree;
            prefix /= component;
            if (lstat((layer / prefix).c_str(), &info) != 0) break;
            if (is_whiteout_device(info)) return tree;
            if (prefix != path && !S_ISDIR(info.st_mode)) return tree;
            if (prefix != path && (has_opaque_xattr(layer / prefix) ||
                                   fs::exists(fs::symlink_status(layer / prefix / opaque_marker)))) {
                stop = true;
            }
        }
        struct stat info {};
        if (lstat((layer / path).c_str(), &info) == 0) {
            tree.entries_[relative] = MergedEntry{layer / path, info};
            return tree;
        }
        if (stop) return tree;
    }
    return tree;
}

void MergedTree::copy_to(const fs::path& destination) const {
    fs::create_directory(destination);
    std::map<std::pair<dev_t, ino_t>, fs::path> copied_inodes;
    for (const auto& [relative, entry] : entries_) {
        fs::path target = destination / relative;
        const struct stat& info = entry.info;
        if (S_ISREG(info.st_mode) && info.st_nlink > 1) {
            auto [known, inserted] = copied_inodes.try_emplace({info.st_dev, info.st_ino}, target);
            if (!inserted) {
                if (link(known->second.c_str(), target.c_str()) != 0) throw_errno("cannot link " + target.string());
                continue;
            }
        }
        if (S_ISDIR(info.st_mode)) {
            if (mkdir(target.c_str(), 0700) != 0) throw_errno("cannot create " + target.string());
        } else if (S_ISREG(info.st_mode)) {
            copy_regular_file(entry.source, target, info.st_mode);
        } else if (S_ISLNK(info.st_mode)) {
            fs::create_symlink(fs::read_symlink(entry.source), target);
        } else if (mknod(target.c_str(), info.st_mode, info.st_rdev) != 0) {
            throw_errno("cannot create " + target.string());
        }
        if (lchown(target.c_str(), info.st_uid, info.st_gid) != 0) throw_errno("cannot chown " + target.string());
        if (!S_ISLNK(info.st_mode) && chmod(target.c_str(), info.st_mode & 07777) != 0) {
            throw_errno("cannot chmod " + target.string());
        }
    }
    // Folder times last: creating their content changed them.
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        const struct stat& info = it->second.info;
        struct timespec times[2] = {info.st_atim, info.st_mtim};
        utimensat(AT_FDCWD, (destination / it->first).c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
}

}  // namespace isolab::vm::guest
