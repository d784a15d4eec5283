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
#include <filesystem>
#include <string>

namespace isolab::image {

struct UnpackResult {
    std::string digest;   // "sha256:" of the blob as read
    std::string diff_id;  // "sha256:" of the uncompressed tar
    std::uint64_t entries = 0;
};

// Unpacks `blob` into `destination`, an existing empty folder. The caller compares the
// returned digests with the ones the image expects.
UnpackResult unpack_layer(const std::filesystem::path& blob, const std::filesystem::path& destination);

}  // namespace isolab::image
