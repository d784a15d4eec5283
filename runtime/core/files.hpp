#pragma once
// File helpers: whole-file reads, atomic writes, disk usage, locks and temporary folders.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace isolab {

// Reads a whole file. Throws Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

// What write_file_atomic guarantees about a crash of the host (power loss, kernel panic).
// Other processes see the old or the new content with either value.
enum class Durability {
    // fsync of the file and its folder: after a host crash the file has the old or the
    // new content.
    crash_safe,
    // No fsync, which saves a disk flush per write. After a host crash the file may be
    // missing, empty or old. For files whose loss a reader tolerates.
    rename_only,
};

// Writes `content` to a temporary file beside `path` and renames it over `path`, so a
// reader sees the old or the new content, never a torn one. With Durability::crash_safe
// it fsyncs the file before the rename and the folder after it. Throws Error when `path`
// exists and is not a regular file (a device, FIFO, folder or symbolic link), because the
// rename would replace it.
void write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode = 0644,
                       Durability durability = Durability::crash_safe);

// Bytes allocated on disk by everything under `path` (st_blocks * 512), counting each
// hard-linked inode once. Follows no symbolic links. Missing path: 0.
std::uint64_t disk_usage(const std::filesystem::path& path);

// Sum of the apparent sizes (st_size) of regular files under `path`, each inode once.
std::uint64_t apparent_size(const std::filesystem::path& path);

// A random identifier of 64 lowercase hex digits, as container ids are.
std::string random_hex_id();

// Formats a byte count for people: "1.4 MB" (decimal units, as Docker prints sizes).
std::string human_size(std::uint64_t bytes);

// Parses a size such as "64M", "1g", "512k" or "1048576" (binary multiples: K = 1024).
// Throws Error for anything else, including values that overflow 64 bits.
std::uint64_t parse_size(std::string_view text);

// An exclusive flock(2) on a lock file, released by the destructor. Taken by every
// isolab process before it changes shared state under the state root.
class FileLock {
public:
    explicit FileLock(const std::filesystem::path& path);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

// A folder created with a unique name under `parent` and removed with its content by
// the destructor, unless release() was called.
class TemporaryDirectory {
public:
    explicit TemporaryDirectory(const std::filesystem::path& parent, std::string_view prefix = "tmp-");
    ~TemporaryDirectory();
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // Keeps the folder: the destructor will no longer remove it.
    std::filesystem::path release();

private:
    std::filesystem::path path_;
    bool owned_ = true;
};

}  // namespace isolab
