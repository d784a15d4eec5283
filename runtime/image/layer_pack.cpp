#include "runtime/image/layer_pack.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include <spdlog/spdlog.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/archive_io.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

struct EntryDeleter {
    void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};

// Passes the tar writer's output to the compressed stream. Exceptions are kept and rethrown
// because they must not cross libarchive's C frames.
struct TarSink {
    CompressingWriter* output;
    std::exception_ptr failure;

    static la_ssize_t write(archive* handle, void* client, const void* data, size_t size) {
        auto* sink = static_cast<TarSink*>(client);
        try {
            sink->output->write(data, size);
            return static_cast<la_ssize_t>(size);
        } catch (const std::exception& error) {
            sink->failure = std::current_exception();
            archive_set_error(handle, EIO, "%s", error.what());
            return -1;
        }
    }
};

std::unique_ptr<archive_entry, EntryDeleter> make_header(const TarEntry& entry, std::time_t mtime) {
    std::unique_ptr<archive_entry, EntryDeleter> header(archive_entry_new());
    archive_entry* raw = header.get();
    archive_entry_set_pathname(raw, entry.path.c_str());
    archive_entry_set_uid(raw, entry.uid);
    archive_entry_set_gid(raw, entry.gid);
    archive_entry_set_perm(raw, static_cast<mode_t>(entry.mode));
    archive_entry_set_mtime(raw, mtime, 0);
    switch (entry.type) {
        case TarEntry::Type::directory: archive_entry_set_filetype(raw, AE_IFDIR); break;
        case TarEntry::Type::symlink:
            archive_entry_set_filetype(raw, AE_IFLNK);
            archive_entry_set_symlink(raw, entry.link_target.c_str());
            break;
        case TarEntry::Type::hardlink:
            archive_entry_set_filetype(raw, AE_IFREG);
            archive_entry_set_hardlink(raw, entry.link_target.c_str());
            break;
        case TarEntry::Type::file:
            archive_entry_set_filetype(raw, AE_IFREG);
            archive_entry_set_size(raw, static_cast<la_int64_t>(entry.source.empty() ? entry.content.size()
                                                                                    : fs::file_size(entry.source)));
            break;
    }
    return header;
}

void write_data(archive* tar, const void* data, size_t size, const std::string& path) {
    if (size == 0) return;
    if (archive_write_data(tar, data, size) != static_cast<la_ssize_t>(size)) {
        throw Error("cannot add " + path + " to the layer: " + archive_error_text(tar));
    }
}

void write_entry_data(archive* tar, const TarEntry& entry) {
    if (entry.type != TarEntry::Type::file) return;
    if (entry.source.empty()) {
        write_data(tar, entry.content.data(), entry.content.size(), entry.path);
        return;
    }
    std::ifstream stream(entry.source, std::ios::binary);
    if (!stream) throw Error("cannot read " + entry.source.string());
    std::vector<char> buffer(1 << 16);
    while (stream) {
        stream.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        write_data(tar, buffer.data(), static_cast<size_t>(stream.gcount()), entry.path);
    }
}

// Moves a finished compressed file into the blob store and describes it as a layer.
Layer adopt_layer(OciLayout& layout, const fs::path& file, const CompressingWriter& output, Compression compression) {
    Layer layer{output.compressed_digest(), output.uncompressed_digest(), layer_media_type(compression),
                output.compressed_size()};
    layout.adopt_blob_file(file, layer.digest);
    spdlog::debug("stored layer {} (diff_id {}, {} bytes)", layer.digest, layer.diff_id, layer.size);
    return layer;
}

fs::path scratch_file(const OciLayout& layout) {
    return layout.scratch() / ("layer-" + random_hex_id().substr(0, 16) + ".tar.compressed");
}

// Removes a scratch file unless it was moved into the blob store.
struct ScratchFile {
    fs::path path;
    ~ScratchFile() {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
};

}  // namespace

Layer write_layer(OciLayout& layout, std::vector<TarEntry> entries, std::time_t mtime, Compression compression) {
    std::sort(entries.begin(), entries.end(), [](const TarEntry& a, const TarEntry& b) { return a.path < b.path; });

    ScratchFile file{scratch_file(layout)};
    CompressingWriter output(file.path, compression);
    TarSink sink{&output, nullptr};
    WriteArchive tar(archive_write_new());
    archive_write_set_format_pax_restricted(tar.get());
    if (archive_write_open(tar.get(), &sink, nullptr, TarSink::write, nullptr) != ARCHIVE_OK) {
        throw Error("cannot start a layer tar: " + archive_error_text(tar.get()));
    }

    for (const auto& entry : entries) {
        auto header = make_header(entry, mtime);
        if (archive_write_header(tar.get(), header.get()) != ARCHIVE_OK) {
            if (sink.failure) std::rethrow_exception(sink.failure);
            throw Error("cannot add " + entry.path + " to the layer: " + archive_error_text(tar.get()));
        }
        write_entry_data(tar.get(), entry);
    }
    if (archive_write_close(tar.get()) != ARCHIVE_OK) {
        if (sink.failure) std::rethrow_exception(sink.failure);
        throw Error("cannot finish the layer tar: " + archive_error_text(tar.get()));
    }
    output.finish();
    return adopt_layer(layout, file.path, output, compression);
}

Layer import_layer(OciLayout& layout, const fs::path& tar) {
    DecompressingReader reader(tar);
    ScratchFile file{scratch_file(layout)};
    CompressingWriter output(file.path, Compression::gzip);
    std::vector<char> buffer(1 << 16);
    size_t count;
    while ((count = reader.read(buffer.data(), buffer.size())) > 0) output.write(buffer.data(), count);
    output.finish();
    return adopt_layer(layout, file.path, output, Compression::gzip);
}

}  // namespace isolab::image
