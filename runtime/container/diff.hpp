#pragma once
// `isolab diff`: what a container changed in its filesystem compared with its image,
// read from the overlayfs upper dir, in the form `docker diff` prints.
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/image/store.hpp"

namespace isolab::container {

struct FilesystemChange {
    char kind = 'C';     // 'A' added, 'C' changed, 'D' deleted
    std::string path;    // absolute inside the container, e.g. /etc/motd
};

// Changes recorded in `upperdir` over the image layers `lowerdirs` (top layer first):
// an overlayfs whiteout (a character device 0/0) is a deletion, an entry that exists in
// a lower layer is a change, anything else is an addition. Every entry of the upper dir
// is listed, so an added directory comes with its contents. Sorted by path.
// NOTE: below an opaque directory, a name that also exists in a lower layer shows as C,
// although the directory hides the lower one and Docker would print A.
std::vector<FilesystemChange> filesystem_changes(const std::filesystem::path& upperdir,
                                                 const std::vector<std::filesystem::path>& lowerdirs);

// The changes of the container `name_or_id` over its image. Throws Error when there is
// no such container, or its image is gone from the store.
std::vector<FilesystemChange> container_changes(image::Store& store, const std::string& name_or_id);

// The lines of `isolab diff`, one "K /path" per change.
std::string format_changes(const std::vector<FilesystemChange>& changes);

}  // namespace isolab::container
