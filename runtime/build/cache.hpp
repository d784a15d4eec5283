#pragma once
// The build cache: for each step, keyed by the chain of steps before it, the layer the
// step produced (or that it produced none). Entries are files under
// <state root>/build-cache/, written atomically. Layer blobs are not pinned: when
// `isolab rmi` collects a blob that only the cache named, the entry stops matching.
#include <optional>
#include <string>

#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::build {

struct CachedStep {
    std::optional<image::Layer> layer;  // nullopt: the step added no layer
};

class BuildCache {
public:
    explicit BuildCache(const Paths& paths);

    // The step stored under `key`, when its layer blob is still in the store.
    std::optional<CachedStep> find(const std::string& key, const image::Store& store) const;
    void store(const std::string& key, const CachedStep& step);

    // The image config (its exact bytes) a build whose last step had `key` produced, so a
    // build that hits the cache in every step gives the same image id again.
    std::optional<std::string> find_config(const std::string& key) const;
    void store_config(const std::string& key, const std::string& config);

private:
    std::filesystem::path folder_;
};

// The cache key of a step: SHA-256 of the parent's key and the step's description.
std::string step_key(const std::string& parent_key, const std::string& description);

}  // namespace isolab::build
