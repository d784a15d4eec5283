#pragma once
// MergedTree: the union of an image's unpacked layers as overlayfs would present it,
// computed on the host without mounting, for packing into an initramfs or an ext4 disk.
//
// Rules (overlayfs and the OCI layer format): an upper entry replaces a lower one; a
// character device 0/0 or a ".wh.NAME" file hides NAME in lower layers; a folder marked
// opaque (xattr trusted.overlay.opaque or user.overlay.opaque = "y", or containing
// ".wh..wh..opq") hides the lower layers' content below it. Whiteouts themselves never
// appear in the result.
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace isolab::vm::guest {

// One path of the merged tree and the layer file that provides it.
struct MergedEntry {
    std::filesystem::path source;  // the file in its layer folder
    struct stat info {};            // lstat of `source`
};

class MergedTree {
public:
    // Merges `lowerdirs`, top layer first (the order of overlayfs lowerdir=).
    static MergedTree merge(const std::vector<std::filesystem::path>& lowerdirs);

    // Resolves only `relative` (e.g. "etc/passwd") with the same rules: the result has
    // that one entry, or none when no layer provides it or a whiteout hides it.
    static MergedTree merge_path(const std::vector<std::filesystem::path>& lowerdirs, const std::string& relative);

    // Paths relative to the rootfs ("bin/sh"), sorted so a folder precedes its content.
    const std::map<std::string, MergedEntry>& entries() const { return entries_; }

    // Removes `relative` and everything below it.
    void erase(const std::string& relative);

    // Recreates the tree under `destination` (created; must not exist) with owners,
    // modes, modification times and hard links preserved.
    void copy_to(const std::filesystem::path& destination) const;

private:
    void erase_below(const std::string& relative);
    void apply_layer(const std::filesystem::path& layer);

    std::map<std::string, MergedEntry> entries_;
};

}  // namespace isolab::vm::guest
