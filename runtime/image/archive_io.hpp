#pragma once
// Streams between layer blobs and tar data, built on libarchive, that compute the two
// digests a layer has: the digest of the blob as stored (compressed) and its diff_id,
// the digest of the uncompressed tar.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

struct archive;

namespace isolab::image {

struct ArchiveReadCloser {
    void operator()(archive* handle) const;
};
struct ArchiveWriteCloser {
    void operator()(archive* handle) const;
};
using ReadArchive = std::unique_ptr<archive, ArchiveReadCloser>;
using WriteArchive = std::unique_ptr<archive, ArchiveWriteCloser>;

// libarchive's last error text for `handle`.
std::string archive_error_text(archive* handle);

// Reads a possibly compressed tar (gzip, zstd, xz, bzip2 or none, detected from the
// content) and returns the uncompressed bytes, hashing both sides on the way.
class DecompressingReader {
public:
    explicit DecompressingReader(const std::filesystem::path& blob);
    ~DecompressingReader();
    DecompressingReader(const DecompressingReader&) = delete;
    DecompressingReader& operator=(const DecompressingReader&) = delete;

    // Fills up to `size` bytes of uncompressed data; returns 0 at the end. Throws Error.
    size_t read(void* buffer, size_t size);
    // Reads what is left of the blob so the digests cover all of it.
    void finish();
    // "sha256:<hex>" of the blob's bytes and of the uncompressed stream, after finish().
    const std::string& compressed_digest() const { return compressed_digest_; }
    const std::string& uncompressed_digest() const { return uncompressed_digest_; }

private:
    struct State;
    std::unique_ptr<State> state_;
    std::string compressed_digest_;
    std::string uncompressed_digest_;
};

// The compression of a layer blob that isolab writes.
enum class Compression { gzip, zstd };

// Parses "gzip" or "zstd". Throws Error for another name.
Compression parse_compression(const std::string& name);
// The OCI layer media type of a tar compressed this way.
const char* layer_media_type(Compression compression);

// Writes an uncompressed tar stream into a gzip or zstd file, hashing the uncompressed
// and the compressed bytes. The output is deterministic for the same input (no timestamp
// or file name in the gzip header, and zstd has neither).
class CompressingWriter {
public:
    CompressingWriter(const std::filesystem::path& output, Compression compression);
    ~CompressingWriter();
    CompressingWriter(const CompressingWriter&) = delete;
    CompressingWriter& operator=(const CompressingWriter&) = delete;

    void write(const void* data, size_t size);
    // Flushes and closes the file.
    void finish();

    std::string compressed_digest() const { return compressed_digest_; }
    std::string uncompressed_digest() const { return uncompressed_digest_; }
    std::uint64_t compressed_size() const { return compressed_size_; }

private:
    struct State;
    std::unique_ptr<State> state_;
    std::string compressed_digest_;
    std::string uncompressed_digest_;
    std::uint64_t compressed_size_ = 0;
};

}  // namespace isolab::image
