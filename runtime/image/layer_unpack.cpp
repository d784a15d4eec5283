#include "runtime/image/layer_unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/image/archive_io.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

constexpr const char* rejected_hint = "the layer is unsafe or damaged, so nothing of it was kept";
constexpr const char* whiteout_prefix = ".wh.";
constexpr const char* opaque_whiteout = ".wh..wh..opq";
constexpr const char* overlay_xattr_prefix = "trusted.overlay.";

[[noreturn]] void reject(const std::string& entry, const std::string& reason) {
    throw Error("layer entry '" + entry + "' rejected: " + reason, rejected_hint);
}

bool starts_with(const std::string& text, const char* prefix) {
    return text.rfind(prefix, 0) == 0;
}

// Splits a tar path into components, dropping "." and empty ones. `what` names the path
// in messages ("path", "hard link target").
std::vector<std::string> split_entry_path(const std::string& entry, const std::string& path, const std::string& what) {
    if (!path.empty() && path.front() == '/') reject(entry, what + " '" + path + "' is absolute");
    std::vector<std::string> components;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        std::string component = path.substr(start, slash - start);
        if (component == "..") reject(entry, what + " '" + path + "' has a '..' component");
        if (!component.empty() && component != ".") components.push_back(component);
        start = slash + 1;
    }
    return components;
}

std::string join(const std::vector<std::string>& components, size_t count) {
    std::string path;
    for (size_t i = 0; i < count; ++i) path += (i ? "/" : "") + components[i];
    return path;
}

int open_beneath(int parent, const std::string& name) {
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = syscall(SYS_openat2, parent, name.c_str(), &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return static_cast<int>(fd);
}

struct DirectoryTime {
    std::vector<std::string> components;
    timespec times[2];
};

// Extracts entries one by one below `root`, never following a symbolic link.
class Unpacker {
public:
    Unpacker(const fs::path& destination, std::uint64_t max_data_bytes)
        : destination_(destination), as_root_(geteuid() == 0), max_data_bytes_(max_data_bytes) {
        root_ = UniqueFd(open(destination.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_) throw_errno("cannot open " + destination.string());
    }

    std::uint64_t data_bytes() const { return data_bytes_; }

    void extract(archive* tar, archive_entry* entry) {
        const char* raw_name = archive_entry_pathname(entry);
        if (raw_name == nullptr) raw_name = archive_entry_pathname_utf8(entry);
        if (raw_name == nullptr) reject("?", "the path cannot be decoded");
        entry_ = raw_name;

        auto components = split_entry_path(entry_, entry_, "path");
        check_xattrs(entry);
        if (components.empty()) {
            extract_root(entry);
            return;
        }

        const std::string& leaf = components.back();
        UniqueFd parent = open_directory(components, components.size() - 1, true);
        if (starts_with(leaf, whiteout_prefix)) {
            extract_whiteout(parent.get(), components);
            return;
        }
        if (const char* target = archive_entry_hardlink(entry)) {
            extract_hardlink(parent.get(), leaf, target);
            return;
        }
        switch (archive_entry_filetype(entry)) {
            case AE_IFREG: extract_file(tar, entry, parent.get(), leaf); break;
            case AE_IFDIR: extract_directory(entry, parent.get(), components); break;
            case AE_IFLNK: extract_symlink(entry, parent.get(), leaf); break;
            case AE_IFIFO: extract_fifo(entry, parent.get(), leaf); break;
            case AE_IFCHR:
            case AE_IFBLK: reject(entry_, "device nodes are not allowed in a layer");
            default: reject(entry_, "unsupported entry type (sockets are not allowed in a layer)");
        }
    }

    // Sets directory mtimes last, because creating their children changed them.
    void finish() {
        for (const auto& directory : directory_times_) {
            UniqueFd fd = open_directory(directory.components, directory.components.size(), false);
            if (fd && futimens(fd.get(), directory.times) != 0) {
                spdlog::warn("cannot set the mtime of {}: {}", join(directory.components, directory.components.size()),
                             std::strerror(errno));
            }
        }
    }

private:
    // Opens the first `count` components below the root, creating missing directories
    // when `create` is set. Rejects the entry when one of them is a symbolic link or not
    // a directory. Without `create`, a missing component returns an empty UniqueFd.
    UniqueFd open_directory(const std::vector<std::string>& components, size_t count, bool create) {
        UniqueFd current(fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
        if (!current) throw_errno("cannot duplicate the layer folder descriptor");
        for (size_t i = 0; i < count; ++i) {
            int fd = open_beneath(current.get(), components[i]);
            if (fd < 0 && errno == ENOENT && create) {
                if (mkdirat(current.get(), components[i].c_str(), 0755) != 0 && errno != EEXIST) {
                    throw_errno("cannot create " + (destination_ / join(components, i + 1)).string());
                }
                fd = open_beneath(current.get(), components[i]);
            }
            if (fd < 0 && errno == ENOENT && !create) return UniqueFd();
            if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
                struct stat info {};
                bool is_symlink = fstatat(current.get(), components[i].c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
                                  S_ISLNK(info.st_mode);
                reject(entry_, "its parent '" + join(components, i + 1) + "' is " +
                                   (is_symlink ? "a symbolic link" : "not a directory"));
            }
            if (fd < 0) throw_errno("cannot open " + (destination_ / join(components, i + 1)).string());
            current = UniqueFd(fd);
        }
        return current;
    }

    void check_xattrs(archive_entry* entry) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        archive_entry_xattr_reset(entry);
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
            if (starts_with(name, overlay_xattr_prefix)) {
                reject(entry_, std::string("xattr ") + name + " is reserved for overlayfs");
            }
        }
    }

    // Replaces what an earlier entry put at `name`, except a directory that stays a
    // directory (a tar may list a directory again to set its metadata).
    void remove_existing(int parent, const std::string& name, bool keep_directory) {
        struct stat info {};
        if (fstatat(parent, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(info.st_mode)) {
            if (keep_directory) return;
            std::error_code error;
            fs::remove_all(fs::path("/proc/self/fd") / std::to_string(parent) / name, error);
            if (error) throw Error("cannot replace directory " + name + " for entry '" + entry_ + "': " + error.message());
            return;
        }
        if (unlinkat(parent, name.c_str(), 0) != 0) throw_errno("cannot replace " + name + " for entry '" + entry_ + "'");
    }

    void apply_metadata(int fd, archive_entry* entry) {
        if (as_root_ && fchown(fd, static_cast<uid_t>(archive_entry_uid(entry)), static_cast<gid_t>(archive_entry_gid(entry))) != 0) {
            throw_errno("cannot chown '" + entry_ + "'");
        }
        // After chown, because chown clears the setuid and setgid bits.
        if (fchmod(fd, archive_entry_perm(entry)) != 0) throw_errno("cannot chmod '" + entry_ + "'");
        apply_xattrs(fd, entry);
    }

    void apply_xattrs(int fd, archive_entry* entry) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        archive_entry_xattr_reset(entry);
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
            if (fsetxattr(fd, name, value, size, 0) != 0) {
                spdlog::warn("cannot set xattr {} on layer entry '{}': {}", name, entry_, std::strerror(errno));
            }
        }
    }

    static void entry_times(archive_entry* entry, timespec times[2]) {
        times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
        times[0] = archive_entry_atime_is_set(entry) ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)} : times[1];
    }

    void extract_root(archive_entry* entry) {
        if (archive_entry_filetype(entry) != AE_IFDIR) reject(entry_, "it would replace the layer's root directory");
        apply_metadata(root_.get(), entry);
        DirectoryTime time{{}, {}};
        entry_times(entry, time.times);
        directory_times_.push_back(time);
    }

    void extract_whiteout(int parent, const std::vector<std::string>& components) {
        const std::string& leaf = components.back();
        if (leaf == opaque_whiteout) {
            if (fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) != 0) {
                throw_errno("cannot mark '" + join(components, components.size() - 1) + "' opaque for entry '" + entry_ + "'",
                            "overlay whiteouts need root (CAP_SYS_ADMIN)");
            }
            return;
        }
        // Other .wh..wh. names are AUFS bookkeeping with no meaning for overlayfs.
        if (starts_with(leaf, ".wh..wh.")) return;

        std::string hidden = leaf.substr(4);
        if (hidden.empty() || hidden == "." || hidden == "..") reject(entry_, "invalid whiteout name");
        // A whiteout hides lower layers only, so an entry of this layer with the same name stays.
        struct stat info {};
        if (fstatat(parent, hidden.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) return;
        if (mknodat(parent, hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
            throw_errno("cannot create the whiteout for entry '" + entry_ + "'", "overlay whiteouts need root (CAP_MKNOD)");
        }
    }

    void extract_hardlink(int parent, const std::string& leaf, const std::string& target) {
        auto target_components = split_entry_path(entry_, target, "hard link target");
        if (target_components.empty()) reject(entry_, "hard link target '" + target + "' is the layer root");

        UniqueFd target_parent = open_directory(target_components, target_components.size() - 1, false);
        if (!target_parent) reject(entry_, "hard link target '" + target + "' does not exist in the layer");
        const std::string& target_leaf = target_components.back();
        struct stat info {};
        if (fstatat(target_parent.get(), target_leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
            reject(entry_, "hard link target '" + target + "' does not exist in the layer");
        }
        if (S_ISDIR(info.st_mode)) reject(entry_, "hard link target '" + target + "' is a directory");

        struct stat existing {};
        if (fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && existing.st_ino == info.st_ino &&
            existing.st_dev == info.st_dev) {
            return;
        }
        remove_existing(parent, leaf, false);
        if (linkat(target_parent.get(), target_leaf.c_str(), parent, leaf.c_str(), 0) != 0) {
            throw_errno("cannot create hard link '" + entry_ + "' to '" + target + "'");
        }
    }

    void extract_file(archive* tar, archive_entry* entry, int parent, const std::string& leaf) {
        remove_existing(parent, leaf, false);
        UniqueFd fd(openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) throw_errno("cannot create '" + entry_ + "'");

        const void* block = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        int status;
        while ((status = archive_read_data_block(tar, &block, &size, &offset)) == ARCHIVE_OK) {
            write_at(fd.get(), block, size, offset);
        }
        if (status != ARCHIVE_EOF) throw Error("cannot read the data of '" + entry_ + "': " + archive_error_text(tar), rejected_hint);
        if (archive_entry_size_is_set(entry) && ftruncate(fd.get(), archive_entry_size(entry)) != 0) {
            throw_errno("cannot size '" + entry_ + "'");
        }

        apply_metadata(fd.get(), entry);
        timespec times[2];
        entry_times(entry, times);
        if (futimens(fd.get(), times) != 0) throw_errno("cannot set the mtime of '" + entry_ + "'");
    }

    void write_at(int fd, const void* data, size_t size, la_int64_t offset) {
        if (size > max_data_bytes_ - data_bytes_) {
            throw Error("the layer unpacks to more than " + std::to_string(max_data_bytes_) + " bytes of file data (at '" +
                            entry_ + "'), the limit set by " + max_layer_size_variable,
                        std::string("if the image is trusted, raise the limit, e.g. ") + max_layer_size_variable + "=64G");
        }
        data_bytes_ += size;
        const char* bytes = static_cast<const char*>(data);
        while (size > 0) {
            ssize_t count = pwrite(fd, bytes, size, offset);
            if (count < 0 && errno == EINTR) continue;
            if (count < 0) throw_errno("cannot write '" + entry_ + "' into " + destination_.string());
            bytes += count;
            size -= static_cast<size_t>(count);
            offset += count;
        }
    }

    void extract_directory(archive_entry* entry, int parent, const std::vector<std::string>& components) {
        const std::string& leaf = components.back();
        remove_existing(parent, leaf, true);
        if (mkdirat(parent, leaf.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("cannot create '" + entry_ + "'");
        UniqueFd fd(open_beneath(parent, leaf));
        if (!fd) throw_errno("cannot open '" + entry_ + "'");

        apply_metadata(fd.get(), entry);
        DirectoryTime time{components, {}};
        entry_times(entry, time.times);
        directory_times_.push_back(time);
    }

    void extract_symlink(archive_entry* entry, int parent, const std::string& leaf) {
        const char* target = archive_entry_symlink(entry);
        if (target == nullptr) reject(entry_, "symbolic link without a target");
        remove_existing(parent, leaf, false);
        if (symlinkat(target, parent, leaf.c_str()) != 0) throw_errno("cannot create symbolic link '" + entry_ + "'");
        set_metadata_by_name(entry, parent, leaf, false);
    }

    void extract_fifo(archive_entry* entry, int parent, const std::string& leaf) {
        remove_existing(parent, leaf, false);
        if (mkfifoat(parent, leaf.c_str(), 0600) != 0) throw_errno("cannot create FIFO '" + entry_ + "'");
        set_metadata_by_name(entry, parent, leaf, true);
    }

    // For entries that cannot be opened without side effects (symbolic links, FIFOs).
    void set_metadata_by_name(archive_entry* entry, int parent, const std::string& leaf, bool set_mode) {
        if (as_root_ && fchownat(parent, leaf.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                                 static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno("cannot chown '" + entry_ + "'");
        }
        if (set_mode && fchmodat(parent, leaf.c_str(), archive_entry_perm(entry), 0) != 0) {
            throw_errno("cannot chmod '" + entry_ + "'");
        }
        timespec times[2];
        entry_times(entry, times);
        if (utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno("cannot set the mtime of '" + entry_ + "'");
        }
    }

    fs::path destination_;
    bool as_root_;
    std::uint64_t max_data_bytes_;
    std::uint64_t data_bytes_ = 0;
    UniqueFd root_;
    std::string entry_;
    std::vector<DirectoryTime> directory_times_;
};

// Feeds libarchive's tar reader from the decompressed stream. Exceptions must not cross
// libarchive's C frames, so a failure is kept and rethrown after the call returns.
struct TarSource {
    DecompressingReader* reader;
    std::vector<char> buffer = std::vector<char>(1 << 16);
    std::exception_ptr failure;

    static la_ssize_t read(archive* handle, void* client, const void** data) {
        auto* source = static_cast<TarSource*>(client);
        try {
            *data = source->buffer.data();
            return static_cast<la_ssize_t>(source->reader->read(source->buffer.data(), source->buffer.size()));
        } catch (const std::exception& error) {
            source->failure = std::current_exception();
            archive_set_error(handle, EIO, "%s", error.what());
            return -1;
        }
    }
};

}  // namespace

std::uint64_t max_layer_size() {
    const char* text = std::getenv(max_layer_size_variable);
    if (text == nullptr || *text == '\0') return default_max_layer_size;
    try {
        return parse_size(text);
    } catch (const Error& error) {
        throw Error(std::string(max_layer_size_variable) + ": " + error.what(), error.hint());
    }
}

UnpackResult unpack_layer(const fs::path& blob, const fs::path& destination, std::uint64_t max_data_bytes) {
    DecompressingReader reader(blob);
    TarSource source{&reader};
    ReadArchive tar(archive_read_new());
    archive_read_support_format_tar(tar.get());
    archive_read_support_format_gnutar(tar.get());
    if (archive_read_open(tar.get(), &source, nullptr, TarSource::read, nullptr) != ARCHIVE_OK) {
        if (source.failure) std::rethrow_exception(source.failure);
        throw Error("layer " + blob.string() + " is not a tar archive: " + archive_error_text(tar.get()), rejected_hint);
    }

    Unpacker unpacker(destination, max_data_bytes);
    UnpackResult result;
    while (true) {
        archive_entry* entry = nullptr;
        int status = archive_read_next_header(tar.get(), &entry);
        if (status == ARCHIVE_EOF) break;
        if (source.failure) std::rethrow_exception(source.failure);
        if (status < ARCHIVE_WARN) {
            throw Error("layer " + blob.string() + " is not a valid tar archive: " + archive_error_text(tar.get()), rejected_hint);
        }
        unpacker.extract(tar.get(), entry);
        ++result.entries;
    }
    unpacker.finish();
    result.data_bytes = unpacker.data_bytes();

    reader.finish();
    result.digest = reader.compressed_digest();
    result.diff_id = reader.uncompressed_digest();
    spdlog::debug("unpacked {} entries of {} into {}", result.entries, blob.string(), destination.string());
    return result;
}

}  // namespace isolab::image
