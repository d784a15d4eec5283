#pragma once
// Planning COPY and ADD: which files a step reads, and the layer entries it writes.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "runtime/build/tree.hpp"
#include "runtime/image/layer_pack.hpp"

namespace isolab::build {

struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct CopyRequest {
    std::vector<std::string> sources;      // as written after substitution; globs allowed
    const SourceTree* source_tree = nullptr;
    bool keep_source_owner = false;        // true for --from, false for the context, whose files become root's
    std::string destination;               // absolute path in the image
    std::optional<Owner> chown;
    std::optional<unsigned> chmod;
    const SourceTree* image = nullptr;     // the stage's file system before the step
};

// Returns the entries of the layer a COPY writes. Following Docker:
//   - a source directory copies its contents, not the directory itself;
//   - several sources (or a glob matching several) need a destination ending in "/";
//   - a destination ending in "/", or a directory in the image, receives files by name;
//   - the destination directory, when new, gets the --chown owner, but the missing
//     folders above it are created root-owned with mode 0755, and existing folders keep
//     their owner and mode;
//   - files from the context belong to root unless --chown is given.
// Throws Error when a source is missing or outside the tree, or when the destination
// goes through a symbolic link in the image.
std::vector<image::TarEntry> plan_copy(const CopyRequest& request);

// Returns the entries that create the directory `path` (relative) with `owner` and mode
// 0755, and the missing folders above it root-owned. Returns nothing when it exists.
// Throws Error when `path` or a folder above it is a file or symbolic link in the image.
std::vector<image::TarEntry> plan_directory(const SourceTree& image, const std::string& path, Owner owner);

// A digest of the entries: names, types, modes, owners, link targets and file content.
// The layer cache keys COPY and ADD steps with it.
std::string entries_digest(const std::vector<image::TarEntry>& entries);

// Parses --chmod's octal mode ("755", "0644"). Throws Error for anything else.
unsigned parse_chmod(const std::string& text);

// Parses --chown's USER[:GROUP] (names or numbers) against the image's /etc/passwd and
// /etc/group. A user without a group gets the same number as group, as in Docker.
Owner parse_chown(const std::string& text, const SourceTree& image);

}  // namespace isolab::build
