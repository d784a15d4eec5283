#pragma once
// `isolab image prune`: removing images that no container uses, as `docker image prune`.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/image/store.hpp"

namespace isolab::image {

// The tag a build without -t gives its image: the counterpart of Docker's dangling
// (untagged) images, since every image in isolab's store has a tag.
inline constexpr const char* unnamed_build_repository = "isolab-build";

struct PruneResult {
    std::vector<std::string> lines;      // "Untagged: ..." and "Deleted: sha256:..."
    std::uint64_t reclaimed_bytes = 0;   // blobs and unpacked layers removed
};

// Removes the images of unnamed builds, or with `all` every image, that no container
// (running or stopped) uses, then the blobs and unpacked layers nothing refers to.
PruneResult prune_images(Store& store, bool all);

}  // namespace isolab::image
