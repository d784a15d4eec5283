#include "runtime/image/prune.hpp"

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/image/reference.hpp"

namespace isolab::image {

namespace {

std::uint64_t store_bytes(const Store& store) {
    return disk_usage(store.paths().images()) + disk_usage(store.paths().layers());
}

bool is_unnamed_build(const std::string& reference) {
    return reference.rfind(std::string(unnamed_build_repository) + ":", 0) == 0;
}

}  // namespace

PruneResult prune_images(Store& store, bool all) {
    PruneResult result;
    std::uint64_t before = store_bytes(store);
    for (const auto& image : store.list()) {
        if (!all && !is_unnamed_build(image.reference)) continue;
        // remove() only untags an image that keeps another tag, and rejects removing the
        // last tag of an image a container uses.
        try {
            auto lines = store.remove(image.reference, false);
            result.lines.insert(result.lines.end(), lines.begin(), lines.end());
        } catch (const Error& error) {
            spdlog::debug("image prune: kept {}: {}", image.reference, error.what());
        }
    }
    std::uint64_t after = store_bytes(store);
    result.reclaimed_bytes = before > after ? before - after : 0;
    return result;
}

}  // namespace isolab::image
