#pragma once
// Building layer blobs: a deterministic tar of entries described in memory (for the
// built-in images and build steps), or an existing tar recompressed as a gzip layer
// (for import).
#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/image/archive_io.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/store.hpp"

namespace isolab::image {

struct TarEntry {
    enum class Type { directory, file, symlink, hardlink };
    Type type = Type::file;
    std::string path;                  // relative, e.g. "bin/busybox"
    unsigned mode = 0644;              // permission bits
    uid_t uid = 0;
    gid_t gid = 0;
    std::string content;               // file data, unless `source` is set
    std::filesystem::path source;      // host file whose data the entry gets
    std::string link_target;           // symlink or hard link target
};

// Writes `entries` as a gzip- or zstd-compressed POSIX tar layer into the layout.
// Entries are sorted by path and all get `mtime`, and owner names are left out, so the
// same entries and compression always give the same digest.
Layer write_layer(OciLayout& layout, std::vector<TarEntry> entries, std::time_t mtime,
                  Compression compression = Compression::gzip);

// Stores a tar (plain, gzip, zstd, xz or bzip2) as a gzip layer and returns it.
Layer import_layer(OciLayout& layout, const std::filesystem::path& tar);

}  // namespace isolab::image
