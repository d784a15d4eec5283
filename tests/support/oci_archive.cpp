#include "support/oci_archive.hpp"

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/layout.hpp"

namespace isolab::testing {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path write_oci_archive(const fs::path& folder, const std::string& reference, const ArchiveLayer& layer) {
    fs::path layout = folder / "layout";
    fs::create_directories(layout / "blobs/sha256");
    auto add_blob = [&](const std::string& content, const char* media_type) {
        std::string digest = sha256_digest(content);
        write_file_atomic(layout / "blobs/sha256" / image::digest_hex(digest), content);
        return json{{"mediaType", media_type}, {"digest", digest}, {"size", content.size()}};
    };

    std::string blob_digest = sha256_file_digest(layer.blob);
    std::string declared = layer.declared_digest.empty() ? blob_digest : layer.declared_digest;
    // The blob is stored under the digest the manifest names, as a tampered archive would.
    fs::copy_file(layer.blob, layout / "blobs/sha256" / image::digest_hex(declared), fs::copy_options::overwrite_existing);
    json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"config", {{"Env", {"PATH=/bin"}}, {"Cmd", {"sh"}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id}}}}};
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", image::media_type::manifest},
                     {"config", add_blob(config.dump(), image::media_type::config)},
                     {"layers", {{{"mediaType", layer.media_type}, {"digest", declared}, {"size", fs::file_size(layer.blob)}}}}};
    json manifest_descriptor = add_blob(manifest.dump(), image::media_type::manifest);
    manifest_descriptor["annotations"] = {{image::ref_name_annotation, reference}};
    write_file_atomic(layout / "index.json", json{{"schemaVersion", 2}, {"manifests", {manifest_descriptor}}}.dump());
    write_file_atomic(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");

    std::string name = reference;
    for (char& c : name) {
        if (c == ':' || c == '/') c = '-';
    }
    fs::path archive = folder / (name + ".tar");
    run_checked({"tar", "-C", layout.string(), "-cf", archive.string(), "oci-layout", "index.json", "blobs"});
    return archive;
}

}  // namespace isolab::testing
