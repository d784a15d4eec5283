#pragma once
// Conversions between the store's Image and the OCI JSON documents behind it: the image
// manifest (image-spec manifest.md) and the image config (image-spec config.md).
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/image/layout.hpp"
#include "runtime/image/store.hpp"

namespace isolab::image {

// Reads the manifest and config blobs behind an index.json entry (both verified against
// their digests) and returns the image they describe. `reference` is the tag to report.
Image read_image(const OciLayout& layout, const Descriptor& manifest, const std::string& reference);

// The "config" object of an OCI image config (Env, Cmd, ...) from a RunConfig and back.
nlohmann::json run_config_to_json(const RunConfig& config);
RunConfig run_config_from_json(const nlohmann::json& json);

// A complete OCI image config for linux/amd64 with the layers' diff_ids.
nlohmann::json make_image_config(const RunConfig& run_config, const std::string& created,
                                 const std::vector<HistoryEntry>& history, const std::vector<Layer>& layers);

// Stores the config (serialised JSON, kept byte for byte so a loaded image keeps its id)
// and a manifest naming it and the layers, whose blobs must already be in the layout.
// Returns the manifest's descriptor.
Descriptor write_image_blobs(OciLayout& layout, const std::string& config, const std::vector<Layer>& layers);

// Formats a time as the RFC 3339 UTC timestamp image configs use ("2024-01-31T12:00:00Z").
std::string format_rfc3339(std::time_t when);

// True for the layer media types the store can unpack.
bool is_supported_layer_type(const std::string& media_type);

}  // namespace isolab::image
