#include "runtime/build/copy.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/users.hpp"

namespace isolab::build {

namespace fs = std::filesystem;

namespace {

using image::TarEntry;

bool has_glob(const std::string& text) {
    return text.find_first_of("*?[") != std::string::npos;
}

// Expands a normalized source path, matching each component with glob rules.
std::vector<std::string> expand_source(const SourceTree& tree, const std::string& source) {
    std::vector<std::string> matches{""};
    for (const auto& part : split_relative(source)) {
        std::vector<std::string> next;
        for (const auto& parent : matches) {
            if (!has_glob(part)) {
                std::string path = join_relative(parent, part);
                if (tree.lookup(path)) next.push_back(path);
                continue;
            }
            for (const auto& name : tree.children(parent)) {
                if (fnmatch(part.c_str(), name.c_str(), 0) == 0) next.push_back(join_relative(parent, name));
            }
        }
        matches = std::move(next);
    }
    return matches;
}

class Planner {
public:
    explicit Planner(const CopyRequest& request) : request_(request) {}

    // Adds the folders above `path` (relative), keeping existing ones as they are.
    void add_parents(const std::string& path) {
        auto parts = split_relative(path);
        std::string current;
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
            current = join_relative(current, parts[i]);
            add_existing_or_new_directory(current, Owner{});
        }
    }

    // Adds the folder `path`: as it is in the image, or new with `owner` and mode 0755.
    void add_existing_or_new_directory(const std::string& path, Owner owner, bool copied = false) {
        if (path.empty() || entries_.count(path)) return;
        auto existing = request_.image->lookup(path);
        TarEntry entry{TarEntry::Type::directory, path, 0755, owner.uid, owner.gid, {}, {}, {}};
        if (existing) {
            if (S_ISLNK(existing->info.st_mode)) {
                throw Error("the destination /" + path + " is a symbolic link in the image",
                            "isolab does not follow symbolic links in COPY destinations: name the target directory");
            }
            if (!S_ISDIR(existing->info.st_mode)) {
                throw Error("cannot copy into /" + path + ": it is a file in the image", "choose another destination");
            }
            entry.mode = existing->info.st_mode & 07777;
            entry.uid = existing->info.st_uid;
            entry.gid = existing->info.st_gid;
        } else if (copied && request_.chmod) {
            entry.mode = *request_.chmod;
        }
        entries_[path] = entry;
    }

    void copy_entry(const std::string& source, const std::string& target) {
        auto found = request_.source_tree->lookup(source);
        if (!found) throw Error("COPY source " + source + " disappeared while reading it");
        const struct stat& info = found->info;
        TarEntry entry;
        entry.path = target;
        entry.mode = request_.chmod ? *request_.chmod : info.st_mode & 07777;
        Owner owner = request_.chown ? *request_.chown
                      : request_.keep_source_owner ? Owner{info.st_uid, info.st_gid}
                                                   : Owner{};
        entry.uid = owner.uid;
        entry.gid = owner.gid;
        if (S_ISDIR(info.st_mode)) {
            entry.type = TarEntry::Type::directory;
            entries_[target] = entry;
            copy_contents(source, target);
        } else if (S_ISLNK(info.st_mode)) {
            entry.type = TarEntry::Type::symlink;
            entry.mode = 0777;
            entry.link_target = fs::read_symlink(found->host_path).string();
            entries_[target] = entry;
        } else if (S_ISREG(info.st_mode)) {
            entry.type = TarEntry::Type::file;
            entry.source = found->host_path;
            entries_[target] = entry;
        } else {
            throw Error("cannot copy " + source + ": it is not a file, directory or symbolic link",
                        "leave it out of the source, or list it in .dockerignore");
        }
    }

    void copy_contents(const std::string& source, const std::string& target) {
        for (const auto& name : request_.source_tree->children(source)) {
            copy_entry(join_relative(source, name), join_relative(target, name));
        }
    }

    std::vector<TarEntry> entries() const {
        std::vector<TarEntry> list;
        for (const auto& [path, entry] : entries_) list.push_back(entry);
        return list;
    }

private:
    const CopyRequest& request_;
    std::map<std::string, TarEntry> entries_;
};

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<TarEntry> plan_copy(const CopyRequest& request) {
    std::vector<std::string> matches;
    for (const auto& source : request.sources) {
        auto normalized = normalize_relative(source);
        if (!normalized) {
            throw Error("COPY source " + source + " is outside the build context", "name a path inside the context");
        }
        // As in Docker, links named in the source are followed, but only inside the tree.
        if (!has_glob(*normalized)) normalized = resolve_links(*request.source_tree, *normalized);
        auto expanded = expand_source(*request.source_tree, *normalized);
        if (expanded.empty()) {
            throw Error("COPY source " + source + " not found",
                        "check the path, and that .dockerignore does not exclude it");
        }
        matches.insert(matches.end(), expanded.begin(), expanded.end());
    }

    bool into_directory = request.destination.back() == '/';
    if (matches.size() > 1 && !into_directory) {
        throw Error("COPY with several sources needs a destination ending in '/', not " + request.destination,
                    "write the destination as " + request.destination + "/");
    }
    // As Docker cleans the destination (Go's filepath.Clean), a ".." above / stays at /.
    auto destination = normalize_relative(std::filesystem::path(request.destination).lexically_normal().string());
    if (!destination) {
        throw Error("invalid COPY destination " + request.destination, "give an absolute path in the image, e.g. /app/");
    }
    auto existing = destination->empty() ? std::optional<TreeEntry>(TreeEntry{}) : request.image->lookup(*destination);
    if (destination->empty() || (existing && S_ISDIR(existing->info.st_mode))) into_directory = true;

    Planner planner(request);
    planner.add_parents(*destination);
    for (const auto& match : matches) {
        auto found = request.source_tree->lookup(match);
        bool is_directory = found && S_ISDIR(found->info.st_mode);
        if (is_directory) {
            planner.add_existing_or_new_directory(*destination, request.chown.value_or(Owner{}), true);
            planner.copy_contents(match, *destination);
        } else if (into_directory) {
            planner.add_existing_or_new_directory(*destination, request.chown.value_or(Owner{}), true);
            planner.copy_entry(match, join_relative(*destination, base_name(match)));
        } else {
            planner.copy_entry(match, *destination);
        }
    }
    return planner.entries();
}

std::vector<TarEntry> plan_directory(const SourceTree& image, const std::string& path, Owner owner) {
    if (path.empty()) return {};
    if (auto existing = image.lookup(path); existing && S_ISDIR(existing->info.st_mode)) return {};
    CopyRequest request;
    request.image = &image;
    Planner planner(request);
    planner.add_parents(path);
    planner.add_existing_or_new_directory(path, owner);
    return planner.entries();
}

std::string entries_digest(const std::vector<TarEntry>& entries) {
    Sha256 hash;
    for (const auto& entry : entries) {
        std::string content = entry.type != TarEntry::Type::file ? std::string()
                              : entry.source.empty()             ? sha256_digest(entry.content)
                                                                 : sha256_file_digest(entry.source);
        hash.update(std::to_string(static_cast<int>(entry.type)) + " " + entry.path + " " + std::to_string(entry.mode) +
                    " " + std::to_string(entry.uid) + ":" + std::to_string(entry.gid) + " " + entry.link_target + " " +
                    content);
        hash.update("\n", 1);
    }
    return "sha256:" + hash.finish_hex();
}

unsigned parse_chmod(const std::string& text) {
    bool valid = !text.empty() && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
    if (!valid) throw Error("invalid --chmod '" + text + "'", "give an octal mode such as 755 or 0644");
    return static_cast<unsigned>(std::stoul(text, nullptr, 8));
}

Owner parse_chown(const std::string& text, const SourceTree& image) {
    if (text.empty()) throw Error("invalid --chown: it is empty", "give USER[:GROUP], e.g. --chown=1000:1000");
    bool numeric_user = text.find(':') == std::string::npos && text.find_first_not_of("0123456789") == std::string::npos;
    if (numeric_user) {
        auto id = static_cast<uid_t>(std::stoul(text));
        return Owner{id, static_cast<gid_t>(id)};
    }
    auto read_image_file = [&](const char* path) {
        auto entry = image.lookup(path);
        return entry && S_ISREG(entry->info.st_mode) ? read_file(entry->host_path) : std::string();
    };
    auto user = kernel::resolve_user(text, read_image_file("etc/passwd"), read_image_file("etc/group"));
    return Owner{user.uid, user.gid};
}

}  // namespace isolab::build
