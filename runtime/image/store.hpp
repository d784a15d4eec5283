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

#include "runtime/core/paths.hpp"

namespace isolab::image {

// The parts of an OCI image config that say how to run the image.
struct RunConfig {
    std::vector<std::string> env;         // "NAME=value"
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    std::string user;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
};

struct Layer {
    std::string digest;        // "sha256:..." of the compressed blob
    std::string diff_id;       // "sha256:..." of the uncompressed tar
    std::string media_type;
    std::uint64_t size = 0;    // blob bytes
};

struct Image {
    std::string reference;        // normalised "name:tag"
    std::string manifest_digest;  // "sha256:..."
    std::string config_digest;    // also the image id, as Docker uses it
    std::string created;          // RFC 3339
    RunConfig config;
    std::vector<Layer> layers;    // base first
};

// Normalises "busybox" to "busybox:latest"; throws Error for an invalid reference.
std::string normalize_reference(const std::string& reference);

class Store {
public:
    explicit Store(Paths paths);

    // Finds an image by reference ("busybox", "busybox:latest") or by a unique prefix of
    // its id. Throws Error with a hint (how to create or load it) when not found.
    Image resolve(const std::string& reference) const;
    std::optional<Image> find(const std::string& reference) const;
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

    const Paths& paths() const { return paths_; }

private:
    Paths paths_;
};

}  // namespace isolab::image
