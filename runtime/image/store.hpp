#pragma once
// The image store: an OCI image layout under <state root>/images (blobs/sha256/...,
// index.json with one manifest per tag) plus a cache of unpacked layers under
// <state root>/layers/<digest hex>, shared as overlayfs lowerdirs by every container
// and packed into every VM guest of the image.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/paths.hpp"

namespace isolab::image {

// The HEALTHCHECK of an image config, in Docker's form. Durations are nanoseconds and 0
// means the default.
struct Healthcheck {
    std::vector<std::string> test;   // ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command]
    std::int64_t interval = 0;
    std::int64_t timeout = 0;
    std::int64_t start_period = 0;
    std::int64_t start_interval = 0;
    int retries = 0;
};

// Healthcheck in the JSON of an image config: Test, Interval, Timeout, StartPeriod,
// StartInterval and Retries, with the zero values left out.
void to_json(nlohmann::json& json, const Healthcheck& healthcheck);
void from_json(const nlohmann::json& json, Healthcheck& healthcheck);

// The parts of an OCI image config that say how to run the image.
struct RunConfig {
    std::vector<std::string> env;         // "NAME=value"
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    std::string user;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;   // "80/tcp", sorted
    std::vector<std::string> volumes;         // absolute paths, sorted
    std::optional<Healthcheck> healthcheck;
    std::vector<std::string> shell;           // Docker's Shell: the SHELL instruction's argv
    std::vector<std::string> on_build;        // Docker's OnBuild: ONBUILD instructions, as written
};

struct Layer {
    std::string digest;        // "sha256:..." of the compressed blob
    std::string diff_id;       // "sha256:..." of the uncompressed tar
    std::string media_type;
    std::uint64_t size = 0;    // blob bytes
};

// One step of the image's build history, as the OCI config records it.
struct HistoryEntry {
    std::string created;     // RFC 3339
    std::string created_by;
    std::string comment;
    bool empty_layer = false;  // true when the step added no layer
};

struct Image {
    std::string reference;        // normalised "name:tag"
    std::string manifest_digest;  // "sha256:..."
    std::string config_digest;    // also the image id, as Docker uses it
    std::string created;          // RFC 3339
    RunConfig config;
    std::vector<Layer> layers;    // base first
    std::string architecture;     // "amd64"
    std::string os;               // "linux"
    std::vector<HistoryEntry> history;
    std::uint64_t manifest_size = 0;
    std::uint64_t config_size = 0;

    // The 64 hex digits of the image id (config digest).
    std::string id() const { return config_digest.substr(config_digest.find(':') + 1); }
};

// Normalises "busybox" to "busybox:latest"; throws Error for an invalid reference.
std::string normalize_reference(const std::string& reference);

class OciLayout;

class Store {
public:
    explicit Store(Paths paths);

    // Finds an image by reference ("busybox", "busybox:latest") or by a unique prefix of
    // its id. Throws Error with a hint (how to create or load it) when not found.
    // resolve() creates `busybox:latest` when it is requested and missing.
    Image resolve(const std::string& reference) const;
    std::optional<Image> find(const std::string& reference) const;
    // One entry per tag, in the order they were added.
    std::vector<Image> list() const;

    // Creates the built-in `busybox:latest` image from the host's busybox-static when the
    // store does not have it yet. Returns the image.
    Image ensure_busybox();

    // Returns the folder holding the unpacked content of a layer, unpacking it once
    // (safely: no entry may write outside that folder) and verifying its digest.
    std::filesystem::path unpacked_layer(const Layer& layer);

    // The unpacked layers of an image, top layer first, as overlayfs lowerdir wants them.
    std::vector<std::filesystem::path> lowerdirs(const Image& image);

    // Bytes of the image as stored (compressed blobs, config and manifest) and as
    // unpacked on disk (the layer cache).
    std::uint64_t stored_size(const Image& image) const;
    std::uint64_t unpacked_size(const Image& image) const;

    // Adds or moves the tag `target` to the image `source` resolves to.
    void tag(const std::string& source, const std::string& target);

    // Removes a tag, or every tag of an image id when `force` is set, then deletes the
    // blobs and unpacked layers no remaining image uses. Throws Error while a container
    // (<root>/containers/<id>/config.json with "image_id") uses the image. Returns the
    // lines to print, as Docker does: "Untagged: ..." and "Deleted: sha256:...".
    std::vector<std::string> remove(const std::string& reference, bool force);

    // Creates a one-layer image from a rootfs tar (plain or compressed). The tar is
    // unpacked once to check it, so an unsafe tar is rejected here.
    Image import_rootfs(const std::filesystem::path& tar, const std::string& reference);
    // The same with the run config and the history line (`created_by`) of the new image.
    Image import_rootfs(const std::filesystem::path& tar, const std::string& reference, const RunConfig& run_config,
                        const std::string& created_by);

    // Stores an image made of `layers` (already in the blob store) and `config` (a full
    // OCI image config) under `reference`, replacing the tag if it exists. The string
    // form keeps the config's bytes, and so its digest, as they are.
    Image add_image(const std::string& reference, const nlohmann::json& config, const std::vector<Layer>& layers);
    Image add_image(const std::string& reference, const std::string& config, const std::vector<Layer>& layers);

    // Ids (64 hex digits) of the containers whose config.json names this image id.
    std::vector<std::string> containers_using(const std::string& image_id) const;

    // Where layer blobs and unpacked layers live.
    std::filesystem::path blob_path(const std::string& digest) const;
    std::filesystem::path layer_folder(const Layer& layer) const;

    const Paths& paths() const { return paths_; }

private:
    OciLayout open_layout() const;

    Paths paths_;
};

}  // namespace isolab::image
