#include "runtime/build/tree.hpp"

#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <set>

#include "runtime/core/error.hpp"

namespace isolab::build {

namespace fs = std::filesystem;

namespace {

std::optional<struct stat> lstat_path(const fs::path& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        throw_errno("cannot stat " + path.string());
    }
    return info;
}

std::vector<std::string> list_directory(const fs::path& path) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

bool is_whiteout(const struct stat& info) {
    return S_ISCHR(info.st_mode) && major(info.st_rdev) == 0 && minor(info.st_rdev) == 0;
}

bool is_opaque(const fs::path& directory) {
    char value[4] = {};
    ssize_t size = lgetxattr(directory.c_str(), "trusted.overlay.opaque", value, sizeof value);
    return size == 1 && value[0] == 'y';
}

// What one layer says about a path.
enum class Presence {
    absent,        // the layer does not have it: look in lower layers
    hidden,        // deleted or shadowed in this layer: lower layers do not count
    present,
};

Presence presence_in_layer(const fs::path& layer, const std::vector<std::string>& parts) {
    fs::path current = layer;
    bool opaque_ancestor = false;
    for (size_t i = 0; i < parts.size(); ++i) {
        current /= parts[i];
        auto info = lstat_path(current);
        if (!info) return opaque_ancestor ? Presence::hidden : Presence::absent;
        if (is_whiteout(*info)) return Presence::hidden;
        if (i + 1 == parts.size()) return Presence::present;
        if (!S_ISDIR(info->st_mode)) return Presence::hidden;
        opaque_ancestor = opaque_ancestor || is_opaque(current);
    }
    return Presence::present;
}

}  // namespace

std::optional<std::string> normalize_relative(const std::string& path) {
    std::vector<std::string> parts;
    for (const auto& part : split_relative(path)) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string joined;
    for (const auto& part : parts) joined = join_relative(joined, part);
    return joined;
}

std::string resolve_links(const SourceTree& tree, const std::string& path) {
    std::vector<std::string> pending = split_relative(path);
    std::reverse(pending.begin(), pending.end());
    std::string resolved;
    int links = 0;
    while (!pending.empty()) {
        std::string candidate = join_relative(resolved, pending.back());
        pending.pop_back();
        auto entry = tree.lookup(candidate);
        if (!entry || !S_ISLNK(entry->info.st_mode)) {
            resolved = candidate;
            continue;
        }
        if (++links > 40) throw Error("too many levels of symbolic links in " + path);
        std::string target = fs::read_symlink(entry->host_path).string();
        auto base = target.rfind('/', 0) == 0 ? std::optional<std::string>("") : std::optional<std::string>(resolved);
        auto next = normalize_relative(join_relative(*base, target));
        if (!next) throw Error(path + " is a symbolic link that leads out of the build context", "copy the file it points to");
        auto parts = split_relative(*next);
        for (auto part = parts.rbegin(); part != parts.rend(); ++part) pending.push_back(*part);
        resolved.clear();
    }
    return resolved;
}

std::vector<std::string> split_relative(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        parts.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

std::string join_relative(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "/" + name;
}

ContextTree::ContextTree(fs::path root, IgnoreRules rules) : root_(std::move(root)), rules_(std::move(rules)) {}

bool ContextTree::visible(const std::string& path, bool is_directory) const {
    if (path.empty() || !rules_.excluded(path)) return true;
    return is_directory && rules_.may_include_below(path);
}

std::optional<TreeEntry> ContextTree::lookup(const std::string& path) const {
    // A symbolic link above the entry could lead out of the context, so every folder on
    // the way must be a real directory. plan_copy resolves links inside the tree first.
    fs::path folder = root_;
    auto parts = split_relative(path);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        folder /= parts[i];
        auto above = lstat_path(folder);
        if (!above || !S_ISDIR(above->st_mode)) return std::nullopt;
    }
    auto info = lstat_path(path.empty() ? root_ : root_ / path);
    if (!info || !visible(path, S_ISDIR(info->st_mode))) return std::nullopt;
    return TreeEntry{*info, path.empty() ? root_ : root_ / path};
}

std::vector<std::string> ContextTree::children(const std::string& path) const {
    std::vector<std::string> names;
    for (const auto& name : list_directory(path.empty() ? root_ : root_ / path)) {
        if (lookup(join_relative(path, name))) names.push_back(name);
    }
    return names;
}

LayerTree::LayerTree(std::vector<fs::path> layers) : layers_(std::move(layers)) {}

std::optional<TreeEntry> LayerTree::lookup(const std::string& path) const {
    auto parts = split_relative(path);
    if (parts.empty()) {
        struct stat root {};
        root.st_mode = S_IFDIR | 0755;
        for (const auto& layer : layers_) {
            if (auto info = lstat_path(layer)) return TreeEntry{*info, layer};
        }
        return TreeEntry{root, {}};
    }
    for (const auto& layer : layers_) {
        Presence presence = presence_in_layer(layer, parts);
        if (presence == Presence::hidden) return std::nullopt;
        if (presence == Presence::present) return TreeEntry{*lstat_path(layer / path), layer / path};
    }
    return std::nullopt;
}

std::vector<std::string> LayerTree::children(const std::string& path) const {
    auto self = lookup(path);
    if (!self || !S_ISDIR(self->info.st_mode)) return {};
    auto parts = split_relative(path);
    std::set<std::string> seen;
    std::vector<std::string> names;
    for (const auto& layer : layers_) {
        Presence presence = parts.empty() ? Presence::present : presence_in_layer(layer, parts);
        if (presence == Presence::hidden) break;
        if (presence == Presence::absent) continue;
        fs::path folder = parts.empty() ? layer : layer / path;
        auto info = lstat_path(folder);
        if (!info || !S_ISDIR(info->st_mode)) break;
        for (const auto& name : list_directory(folder)) {
            if (!seen.insert(name).second) continue;
            auto child = lstat_path(folder / name);
            if (child && !is_whiteout(*child)) names.push_back(name);
        }
        if (is_opaque(folder)) break;
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace isolab::build
