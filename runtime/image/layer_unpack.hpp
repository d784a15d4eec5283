#pragma once
// Safe unpacking of one image layer (a tar, plain or gzip/zstd compressed) into a folder
// that overlayfs can use as a lowerdir.
//
// Policy: a layer with any unsafe entry is rejected as a whole. unpack_layer throws an
// Error naming the entry, and the caller discards the partly filled folder. An entry is
// unsafe when it could create, change or point a write outside the destination:
//   - an absolute path or a path with a `..` component;
//   - a path whose parent, inside the destination, is a symbolic link created by an
//     earlier entry (each parent is opened with openat2 RESOLVE_NO_SYMLINKS |
//     RESOLVE_BENEATH, one component at a time);
//   - a hard link whose target is absolute, has a `..` component, goes through a
//     symbolic link or is missing;
//   - a character or block device, socket, or an xattr in the trusted.overlay.
//     namespace, which only the whiteout conversion below may set.
// Symbolic link targets are stored as they are, because they are only resolved inside
// the container's root.
//
// OCI whiteouts become overlayfs whiteouts: `.wh.NAME` becomes a character device 0/0
// named NAME, and `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory. Both
// need root (CAP_MKNOD, CAP_SYS_ADMIN). Ownership, permission bits (setuid included),
// xattrs and mtimes are kept. Ownership is only applied when running as root.
#include <cstdint>
#include <filesystem>
#include <string>

namespace isolab::image {

struct UnpackResult {
    std::string digest;   // "sha256:" of the blob as read
    std::string diff_id;  // "sha256:" of the uncompressed tar
    std::uint64_t entries = 0;
    std::uint64_t data_bytes = 0;  // file data written, holes of sparse files not counted
};

// The environment variable that sets the maximum unpacked size of one layer, in the
// form parse_size reads ("16G", "512m", a number of bytes).
inline constexpr const char* max_layer_size_variable = "ISOLAB_MAX_LAYER_SIZE";
inline constexpr std::uint64_t default_max_layer_size = 16ULL << 30;

// The maximum file data one layer may write when unpacked: ISOLAB_MAX_LAYER_SIZE, or
// 16 GiB when it is not set. Throws Error when the variable is not a valid size.
std::uint64_t max_layer_size();

// Unpacks `blob` into `destination`, an existing empty folder. The caller compares the
// returned digests with the ones the image expects. Throws Error as soon as the file
// data written would exceed `max_data_bytes`; the holes of sparse files do not count.
UnpackResult unpack_layer(const std::filesystem::path& blob, const std::filesystem::path& destination,
                          std::uint64_t max_data_bytes = max_layer_size());

}  // namespace isolab::image
