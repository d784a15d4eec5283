#pragma once
// Moving images in and out of the store as single files, in the two formats other tools
// read and write: docker-archive (`docker save`: manifest.json, <id>.json and one
// uncompressed layer.tar per layer) and oci-archive (a tar of an OCI image layout).
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/image/store.hpp"

namespace isolab::image {

enum class ArchiveFormat { docker_archive, oci_archive };

// Parses "docker-archive" or "oci-archive"; throws Error otherwise.
ArchiveFormat parse_archive_format(std::string_view text);

// Writes the image `reference` resolves to into `output`, replacing it atomically.
void save_image(Store& store, const std::string& reference, const std::filesystem::path& output, ArchiveFormat format);

// Adds every image in a docker-archive or oci-archive (plain or compressed; the format
// is detected from the content) to the store. Verifies each blob's digest and unpacks
// each layer once, so a damaged or unsafe archive is rejected. Returns the references
// loaded, in the order of the archive.
std::vector<std::string> load_images(Store& store, const std::filesystem::path& input);

}  // namespace isolab::image
