#include "runtime/build/cache.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "runtime/core/digest.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/layout.hpp"

namespace isolab::build {

namespace fs = std::filesystem;

BuildCache::BuildCache(const Paths& paths) : folder_(paths.root / "build-cache") {}

std::optional<CachedStep> BuildCache::find(const std::string& key, const image::Store& store) const {
    fs::path file = folder_ / (image::digest_hex(key) + ".json");
    if (!fs::exists(file)) return std::nullopt;
    try {
        auto json = nlohmann::json::parse(read_file(file));
        CachedStep step;
        if (json.contains("layer")) {
            const auto& layer = json["layer"];
            step.layer = image::Layer{layer.at("digest"), layer.at("diff_id"), layer.at("mediaType"),
                                      layer.at("size").get<std::uint64_t>()};
            image::check_digest(step.layer->digest);
            if (!fs::exists(store.blob_path(step.layer->digest))) return std::nullopt;
        }
        return step;
    } catch (const std::exception& error) {
        spdlog::warn("ignoring the unreadable build cache entry {}: {}", file.string(), error.what());
        return std::nullopt;
    }
}

void BuildCache::store(const std::string& key, const CachedStep& step) {
    fs::create_directories(folder_);
    nlohmann::json json = nlohmann::json::object();
    if (step.layer) {
        json["layer"] = {{"digest", step.layer->digest},
                         {"diff_id", step.layer->diff_id},
                         {"mediaType", step.layer->media_type},
                         {"size", step.layer->size}};
    }
    write_file_atomic(folder_ / (image::digest_hex(key) + ".json"), json.dump() + "\n");
}

std::optional<std::string> BuildCache::find_config(const std::string& key) const {
    fs::path file = folder_ / (image::digest_hex(key) + ".config.json");
    if (!fs::exists(file)) return std::nullopt;
    return read_file(file);
}

void BuildCache::store_config(const std::string& key, const std::string& config) {
    fs::create_directories(folder_);
    write_file_atomic(folder_ / (image::digest_hex(key) + ".config.json"), config);
}

std::string step_key(const std::string& parent_key, const std::string& description) {
    return sha256_digest(parent_key + "\n" + description);
}

}  // namespace isolab::build
