#pragma once
// Reading `qemu-img info --output=json`: a disk image's virtual size (the size the guest
// gets) and its actual size (bytes allocated on the host). A sparse or qcow2 image
// allocates less than its virtual size.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace isolab::bench {

struct QemuImageInfo {
    std::string format;                   // "raw", "qcow2", ...
    std::uint64_t virtual_size_bytes = 0;
    std::optional<std::uint64_t> actual_size_bytes;  // absent when qemu-img cannot tell
    std::optional<std::string> backing_file;
};

// Parses the JSON that `qemu-img info --output=json` prints. Throws Error when it is not
// JSON or has no virtual-size.
QemuImageInfo parse_qemu_image_info(std::string_view json_text);

// Runs qemu-img info on `image` and parses its output. Throws Error when it fails.
QemuImageInfo read_qemu_image_info(const std::filesystem::path& image);

}  // namespace isolab::bench
