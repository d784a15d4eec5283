#pragma once
// TarBuilder: writes a tar with libarchive, entry by entry, so a test can build any layer,
// also an unsafe one (paths with `..`, absolute paths, links that leave the root).
#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace isolab::testing {

class TarBuilder {
public:
    enum class Compression { none, gzip, zstd };

    explicit TarBuilder(const std::filesystem::path& path, Compression compression = Compression::none)
        : handle_(archive_write_new()) {
        archive_write_set_format_pax_restricted(handle_);
        if (compression == Compression::gzip) archive_write_add_filter_gzip(handle_);
        if (compression == Compression::zstd) archive_write_add_filter_zstd(handle_);
        if (archive_write_open_filename(handle_, path.c_str()) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(handle_));
    }
    ~TarBuilder() { archive_write_free(handle_); }
    TarBuilder(const TarBuilder&) = delete;
    TarBuilder& operator=(const TarBuilder&) = delete;

    TarBuilder& directory(const std::string& path, unsigned mode = 0755) { return add(path, AE_IFDIR, mode, ""); }
    TarBuilder& file(const std::string& path, const std::string& content, unsigned mode = 0644) {
        return add(path, AE_IFREG, mode, content);
    }
    TarBuilder& symlink(const std::string& path, const std::string& target) {
        return add(path, AE_IFLNK, 0777, "", [&](archive_entry* entry) { archive_entry_set_symlink(entry, target.c_str()); });
    }
    TarBuilder& hardlink(const std::string& path, const std::string& target, const std::string& content = "") {
        return add(path, AE_IFREG, 0644, content, [&](archive_entry* entry) {
            archive_entry_set_hardlink(entry, target.c_str());
            if (content.empty()) archive_entry_set_size(entry, 0);
        });
    }
    TarBuilder& device(const std::string& path, unsigned major, unsigned minor) {
        return add(path, AE_IFCHR, 0666, "", [&](archive_entry* entry) { archive_entry_set_rdev(entry, makedev(major, minor)); });
    }
    // Adds an entry; `customise` sets what the helpers above do not.
    template <typename Customise = void (*)(archive_entry*)>
    TarBuilder& add(const std::string& path, unsigned type, unsigned mode, const std::string& content,
                    Customise customise = [](archive_entry*) {}) {
        archive_entry* entry = new_entry(path, type, mode);
        archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
        customise(entry);
        write_header(entry);
        if (!content.empty()) archive_write_data(handle_, content.data(), content.size());
        archive_entry_free(entry);
        return *this;
    }

    void close() {
        if (archive_write_close(handle_) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(handle_));
    }

private:
    static archive_entry* new_entry(const std::string& path, unsigned type, unsigned mode) {
        archive_entry* entry = archive_entry_new();
        archive_entry_set_pathname(entry, path.c_str());
        archive_entry_set_filetype(entry, type);
        archive_entry_set_perm(entry, static_cast<mode_t>(mode));
        archive_entry_set_mtime(entry, 1600000000, 0);
        return entry;
    }
    void write_header(archive_entry* entry) {
        if (archive_write_header(handle_, entry) != ARCHIVE_OK) {
            archive_entry_free(entry);
            throw std::runtime_error(archive_error_string(handle_));
        }
    }

    archive* handle_;
};

}  // namespace isolab::testing
