#include "runtime/image/archive_io.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/image/layout.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

void ArchiveReadCloser::operator()(archive* handle) const {
    archive_read_free(handle);
}

void ArchiveWriteCloser::operator()(archive* handle) const {
    archive_write_free(handle);
}

std::string archive_error_text(archive* handle) {
    const char* text = archive_error_string(handle);
    return text ? text : "unknown libarchive error";
}

struct DecompressingReader::State {
    fs::path path;
    UniqueFd fd;
    Sha256 compressed;
    Sha256 uncompressed;
    ReadArchive handle;
    std::vector<char> buffer = std::vector<char>(1 << 16);
    bool at_end = false;

    static la_ssize_t read_blob(archive* handle, void* client, const void** data) {
        auto* state = static_cast<State*>(client);
        ssize_t count;
        do {
            count = ::read(state->fd.get(), state->buffer.data(), state->buffer.size());
        } while (count < 0 && errno == EINTR);
        if (count < 0) {
            archive_set_error(handle, errno, "cannot read %s", state->path.c_str());
            return -1;
        }
        state->compressed.update(state->buffer.data(), static_cast<size_t>(count));
        *data = state->buffer.data();
        return count;
    }
};

DecompressingReader::DecompressingReader(const fs::path& blob) : state_(std::make_unique<State>()) {
    state_->path = blob;
    state_->fd = UniqueFd(open(blob.c_str(), O_RDONLY | O_CLOEXEC));
    if (!state_->fd) throw_errno("cannot open " + blob.string());

    state_->handle.reset(archive_read_new());
    archive* handle = state_->handle.get();
    archive_read_support_filter_all(handle);
    archive_read_support_format_raw(handle);
    if (archive_read_open(handle, state_.get(), nullptr, State::read_blob, nullptr) != ARCHIVE_OK) {
        throw Error("cannot read " + blob.string() + ": " + archive_error_text(handle));
    }
    archive_entry* entry = nullptr;
    int status = archive_read_next_header(handle, &entry);
    if (status == ARCHIVE_EOF) throw Error(blob.string() + " is empty, not a tar archive");
    if (status < ARCHIVE_WARN) throw Error("cannot read " + blob.string() + ": " + archive_error_text(handle));
}

DecompressingReader::~DecompressingReader() = default;

size_t DecompressingReader::read(void* buffer, size_t size) {
    if (state_->at_end) return 0;
    la_ssize_t count = archive_read_data(state_->handle.get(), buffer, size);
    if (count < 0) {
        throw Error("cannot decompress " + state_->path.string() + ": " + archive_error_text(state_->handle.get()));
    }
    if (count == 0) state_->at_end = true;
    state_->uncompressed.update(buffer, static_cast<size_t>(count));
    return static_cast<size_t>(count);
}

void DecompressingReader::finish() {
    std::vector<char> sink(1 << 16);
    while (read(sink.data(), sink.size()) > 0) {
    }
    const void* ignored = nullptr;
    while (State::read_blob(state_->handle.get(), state_.get(), &ignored) > 0) {
    }
    compressed_digest_ = "sha256:" + state_->compressed.finish_hex();
    uncompressed_digest_ = "sha256:" + state_->uncompressed.finish_hex();
}

Compression parse_compression(const std::string& name) {
    if (name == "gzip") return Compression::gzip;
    if (name == "zstd") return Compression::zstd;
    throw Error("invalid compression '" + name + "'", "use gzip or zstd");
}

const char* layer_media_type(Compression compression) {
    return compression == Compression::zstd ? media_type::layer_zstd : media_type::layer_gzip;
}

struct CompressingWriter::State {
    fs::path path;
    UniqueFd fd;
    Sha256 compressed;
    Sha256 uncompressed;
    std::uint64_t compressed_size = 0;
    WriteArchive handle;

    static la_ssize_t write_blob(archive* handle, void* client, const void* data, size_t size) {
        auto* state = static_cast<State*>(client);
        size_t written = 0;
        while (written < size) {
            ssize_t count = ::write(state->fd.get(), static_cast<const char*>(data) + written, size - written);
            if (count < 0 && errno == EINTR) continue;
            if (count < 0) {
                archive_set_error(handle, errno, "cannot write %s", state->path.c_str());
                return -1;
            }
            written += static_cast<size_t>(count);
        }
        state->compressed.update(data, size);
        state->compressed_size += size;
        return static_cast<la_ssize_t>(size);
    }
};

CompressingWriter::CompressingWriter(const fs::path& output, Compression compression) : state_(std::make_unique<State>()) {
    state_->path = output;
    state_->fd = UniqueFd(open(output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!state_->fd) throw_errno("cannot create " + output.string());

    state_->handle.reset(archive_write_new());
    archive* handle = state_->handle.get();
    const char* filter = compression == Compression::zstd ? "zstd" : "gzip";
    // ARCHIVE_WARN means libarchive was built without zlib or libzstd and would run an
    // external program. Debian's libarchive13 links both.
    int added = compression == Compression::zstd ? archive_write_add_filter_zstd(handle) : archive_write_add_filter_gzip(handle);
    if (added != ARCHIVE_OK) {
        throw Error(std::string("cannot start a ") + filter + " stream: " + archive_error_text(handle),
                    "install a libarchive built with zlib and libzstd");
    }
    archive_write_set_format_raw(handle);
    // "!timestamp" leaves the gzip header's MTIME at 0, so equal input gives equal bytes.
    if (compression == Compression::gzip) archive_write_set_filter_option(handle, "gzip", "timestamp", nullptr);
    archive_write_set_bytes_per_block(handle, 0);
    if (archive_write_open(handle, state_.get(), nullptr, State::write_blob, nullptr) != ARCHIVE_OK) {
        throw Error(std::string("cannot start ") + filter + " stream " + output.string() + ": " + archive_error_text(handle));
    }

    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, "layer.tar");
    archive_entry_set_filetype(entry, AE_IFREG);
    int status = archive_write_header(handle, entry);
    archive_entry_free(entry);
    if (status != ARCHIVE_OK) throw Error(std::string("cannot start ") + filter + " stream " + output.string() + ": " + archive_error_text(handle));
}

CompressingWriter::~CompressingWriter() = default;

void CompressingWriter::write(const void* data, size_t size) {
    state_->uncompressed.update(data, size);
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
        la_ssize_t count = archive_write_data(state_->handle.get(), bytes, size);
        if (count <= 0) throw Error("cannot compress into " + state_->path.string() + ": " + archive_error_text(state_->handle.get()));
        bytes += count;
        size -= static_cast<size_t>(count);
    }
}

void CompressingWriter::finish() {
    if (archive_write_close(state_->handle.get()) != ARCHIVE_OK) {
        throw Error("cannot finish " + state_->path.string() + ": " + archive_error_text(state_->handle.get()));
    }
    if (fsync(state_->fd.get()) != 0) throw_errno("cannot flush " + state_->path.string());
    state_->fd = UniqueFd();
    compressed_digest_ = "sha256:" + state_->compressed.finish_hex();
    uncompressed_digest_ = "sha256:" + state_->uncompressed.finish_hex();
    compressed_size_ = state_->compressed_size;
}

}  // namespace isolab::image
