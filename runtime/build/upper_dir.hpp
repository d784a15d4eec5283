#pragma once
// Turning the overlayfs upper dir of a RUN step into the entries of an OCI layer: a
// whiteout device (character device 0/0) becomes an empty `.wh.NAME` file, and a
// directory marked trusted.overlay.opaque=y gets a `.wh..wh..opq` entry, as the OCI
// image spec (layer.md) asks.
#include <filesystem>
#include <vector>

#include "runtime/image/layer_pack.hpp"

namespace isolab::build {

// Returns the layer entries for everything in `upper_dir`. The top-level proc, sys and
// dev folders, which the runtime creates as mount points, are left out. Hard links within
// the folder stay hard links. FIFOs, sockets and devices other than whiteouts are left
// out, and so are extended attributes.
std::vector<image::TarEntry> upper_dir_entries(const std::filesystem::path& upper_dir);

}  // namespace isolab::build
