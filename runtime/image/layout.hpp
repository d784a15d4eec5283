#pragma once
// OciLayout: reading and writing an OCI image layout folder (image-spec image-layout.md):
// the `oci-layout` marker, `index.json` and content-addressed blobs under blobs/sha256.
// Every write goes through write_file_atomic or a rename, so readers never see a torn
// file. Callers that change index.json hold the layout's lock (lock()) for the whole
// read-modify-write.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"

namespace isolab::image {

namespace media_type {
inline constexpr const char* index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media_type

// The annotation on an index.json entry that names the tag ("busybox:latest").
inline constexpr const char* ref_name_annotation = "org.opencontainers.image.ref.name";

// An OCI content descriptor (image-spec descriptor.md).
struct Descriptor {
    std::string media_type;
    std::string digest;  // "sha256:<hex>"
    std::uint64_t size = 0;
    std::string ref_name;  // the ref.name annotation, only on index.json entries

    nlohmann::json to_json() const;
    static Descriptor from_json(const nlohmann::json& json);
};

// Throws Error unless `digest` is "sha256:" followed by 64 lowercase hex digits.
void check_digest(const std::string& digest);

// The hex part of a "sha256:<hex>" digest.
std::string digest_hex(const std::string& digest);

class BlobPins;

class OciLayout {
public:
    // Opens the layout at `root`, creating `oci-layout`, an empty index.json and the blob
    // folder when they are missing.
    explicit OciLayout(std::filesystem::path root);

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path blob_path(const std::string& digest) const;
    bool has_blob(const std::string& digest) const;

    // Keeps the blob `digest` and its unpacked layer from garbage collection while this
    // object (or a copy of it) exists, even when no tag refers to the blob. write_blob and
    // adopt_blob_file pin what they store. A caller that reuses a blob already in the
    // store pins it first and then checks that it is still there.
    void pin(const std::string& digest);
    // Drops this object's pins at once, so a failed operation can collect what it wrote.
    void unpin_all();
    // The digests pinned by live OciLayout objects of every process. Pin files whose
    // owner has exited (its lock is free) are removed. The caller holds the layout lock.
    std::set<std::string> pinned_digests() const;

    // Stores `content` as a blob and returns its descriptor.
    Descriptor write_blob(const std::string& content, const std::string& media_type);
    // Moves a finished file (on the same file system) into the blob store under `digest`,
    // which the caller computed while writing it. Keeps an existing blob with that digest.
    void adopt_blob_file(const std::filesystem::path& file, const std::string& digest);

    // Reads a whole blob and checks its SHA-256 against `digest`. Throws Error naming the
    // blob when it is missing or its content does not match.
    std::string read_blob_verified(const std::string& digest) const;
    // Hashes the blob file and throws Error when it does not match `digest`.
    void verify_blob_file(const std::string& digest) const;
    void remove_blob(const std::string& digest);
    std::vector<std::string> blob_digests() const;

    std::vector<Descriptor> read_index() const;
    void write_index(const std::vector<Descriptor>& manifests);

    // The exclusive lock serialising changes to this layout between processes.
    std::unique_ptr<FileLock> lock() const;

    // A folder inside the layout for files being written, so a rename into blobs/ stays
    // on one file system.
    std::filesystem::path scratch() const { return root_ / ".scratch"; }

private:
    std::filesystem::path root_;
    std::shared_ptr<BlobPins> pins_;  // created by the first pin()
};

}  // namespace isolab::image
