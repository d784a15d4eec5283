#pragma once
// Writes an oci-archive (the tar `isolab load` reads) around one layer blob that a test
// made itself, so a test can load layers isolab's own writer would never produce.
#include <filesystem>
#include <string>

namespace isolab::testing {

struct ArchiveLayer {
    std::filesystem::path blob;    // the layer as stored: a tar, plain or compressed
    std::string media_type;        // an OCI layer media type
    std::string diff_id;           // "sha256:" of the uncompressed tar
    std::string declared_digest;   // what the manifest claims; empty: the blob's real digest
};

// Writes the layout folder `folder`/layout and packs it as an oci-archive in `folder`,
// named after `reference` with ':' and '/' replaced by '-' ("lab-evil-1.tar"). The one
// image, tagged `reference`, has `layer`, Env PATH=/bin and Cmd ["sh"]. Returns the
// archive's path.
std::filesystem::path write_oci_archive(const std::filesystem::path& folder, const std::string& reference,
                                        const ArchiveLayer& layer);

}  // namespace isolab::testing
