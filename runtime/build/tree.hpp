#pragma once
// Read-only views of the files a COPY or ADD reads: the build context on the host (less
// what .dockerignore excludes) and the file system of an image or earlier stage, seen
// through its unpacked layers as overlayfs would merge them.
#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/build/dockerignore.hpp"

namespace isolab::build {

struct TreeEntry {
    struct stat info {};
    std::filesystem::path host_path;  // where the content can be read
};

// Paths are relative, '/'-separated and normalized, and "" is the root.
class SourceTree {
public:
    virtual ~SourceTree() = default;
    // Returns the entry at `path` without following a final symbolic link, or nullopt.
    virtual std::optional<TreeEntry> lookup(const std::string& path) const = 0;
    // The names in the directory `path`, sorted.
    virtual std::vector<std::string> children(const std::string& path) const = 0;
};

// The build context folder, filtered by .dockerignore rules.
class ContextTree : public SourceTree {
public:
    ContextTree(std::filesystem::path root, IgnoreRules rules);
    std::optional<TreeEntry> lookup(const std::string& path) const override;
    std::vector<std::string> children(const std::string& path) const override;
    const std::filesystem::path& root() const { return root_; }

private:
    bool visible(const std::string& path, bool is_directory) const;
    std::filesystem::path root_;
    IgnoreRules rules_;
};

// The merged file system of unpacked layers (top layer first) with overlayfs whiteouts
// (character devices 0/0) and opaque directories (trusted.overlay.opaque=y).
class LayerTree : public SourceTree {
public:
    explicit LayerTree(std::vector<std::filesystem::path> layers);
    std::optional<TreeEntry> lookup(const std::string& path) const override;
    std::vector<std::string> children(const std::string& path) const override;

private:
    std::vector<std::filesystem::path> layers_;
};

// Normalizes a path given in a Dockerfile to the relative form above: removes leading
// "/", "." components and repeated "/", and resolves ".." lexically. Returns nullopt when
// ".." would leave the root.
std::optional<std::string> normalize_relative(const std::string& path);

// Resolves the symbolic links in `path` (each component, also the last) inside the tree:
// an absolute target counts from the tree's root. Throws Error when a link leads out of
// the tree or the links nest more than 40 deep.
std::string resolve_links(const SourceTree& tree, const std::string& path);

// Splits a relative path into its components ("" gives none).
std::vector<std::string> split_relative(const std::string& path);

// Joins a relative path and a name.
std::string join_relative(const std::string& parent, const std::string& name);

}  // namespace isolab::build
