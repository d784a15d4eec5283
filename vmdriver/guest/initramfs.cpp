#include "vmdriver/guest/initramfs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/guest/cpio_writer.hpp"
#include "vmdriver/guest/merged_tree.hpp"

namespace isolab::vm::guest {

namespace fs = std::filesystem;

namespace {

using namespace cpio;

constexpr const char* default_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Writes an entry whose data (if any) comes from its sourcepath.
void write_tree_entry(archive* writer, archive_entry* entry) {
    write_header(writer, entry);
    if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0) {
        copy_file_data(writer, archive_entry_sourcepath(entry));
    }
}

EntryPointer entry_for(const std::string& name, const MergedEntry& merged) {
    auto entry = new_entry();
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_copy_sourcepath(entry.get(), merged.source.c_str());
    archive_entry_copy_stat(entry.get(), &merged.info);
    if (S_ISLNK(merged.info.st_mode)) {
        archive_entry_set_symlink(entry.get(), fs::read_symlink(merged.source).c_str());
    }
    if (!S_ISREG(merged.info.st_mode)) archive_entry_set_size(entry.get(), 0);
    return entry;
}

// Writes the merged tree. The link resolver gives hard links (busybox's applets, for
// one) a single copy of the data, as the newc format and the kernel's unpacker expect.
void write_merged_tree(archive* writer, const MergedTree& tree) {
    std::unique_ptr<archive_entry_linkresolver, void (*)(archive_entry_linkresolver*)> resolver(
        archive_entry_linkresolver_new(), archive_entry_linkresolver_free);
    archive_entry_linkresolver_set_strategy(resolver.get(), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);

    std::vector<EntryPointer> keep_alive;
    for (const auto& [name, merged] : tree.entries()) {
        archive_entry* entry = entry_for(name, merged).release();
        archive_entry* spare = nullptr;
        archive_entry_linkify(resolver.get(), &entry, &spare);
        if (entry != nullptr) {
            write_tree_entry(writer, entry);
            archive_entry_free(entry);
        }
        if (spare != nullptr) {
            write_tree_entry(writer, spare);
            archive_entry_free(spare);
        }
    }
    // Entries of hard-link groups whose other links are hidden or outside the image.
    while (true) {
        archive_entry* entry = nullptr;
        archive_entry* spare = nullptr;
        archive_entry_linkify(resolver.get(), &entry, &spare);
        if (entry == nullptr) break;
        write_tree_entry(writer, entry);
        archive_entry_free(entry);
    }
}

// ---- cache --------------------------------------------------------------------------

std::string digest_hex(const std::string& digest) {
    auto colon = digest.find(':');
    return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

void build_image_part(const fs::path& destination, const std::vector<fs::path>& lowerdirs,
                      InitramfsCompression compression) {
    MergedTree tree = MergedTree::merge(lowerdirs);
    tree.erase("init");

    FileDescriptor fd(open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno("cannot create " + destination.string());
    auto writer = open_cpio_writer(fd.get(), compression, destination.string());
    write_merged_tree(writer.get(), tree);
    add_console_device(writer.get(), !tree.entries().contains("dev"));
    add_init(writer.get());
    if (archive_write_close(writer.get()) != ARCHIVE_OK) throw_archive(writer.get(), "cannot finish " + destination.string());
    if (fsync(fd.get()) != 0) throw_errno("cannot flush " + destination.string());
    fs::permissions(destination, fs::perms(0644));
}

// Copies `source` to the open `target`: a reflink where the filesystem supports one,
// otherwise an in-kernel copy.
void clone_or_copy(const fs::path& source, int target) {
    FileDescriptor input(open(source.c_str(), O_RDONLY | O_CLOEXEC));
    if (input.get() < 0) throw_errno("cannot open " + source.string());
    if (ioctl(target, FICLONE, input.get()) == 0) {
        lseek(target, 0, SEEK_END);
        return;
    }
    while (true) {
        ssize_t copied = copy_file_range(input.get(), nullptr, target, nullptr, 1 << 30, 0);
        if (copied < 0 && errno == EINTR) continue;
        if (copied < 0) throw_errno("cannot copy " + source.string());
        if (copied == 0) break;
    }
}

// ---- users --------------------------------------------------------------------------

struct PasswdEntry {
    std::string name;
    unsigned uid = 0;
    unsigned gid = 0;
};

struct GroupEntry {
    std::string name;
    unsigned gid = 0;
    std::vector<std::string> members;
};

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream stream(text);
    while (std::getline(stream, field, separator)) fields.push_back(field);
    if (!text.empty() && text.back() == separator) fields.emplace_back();
    return fields;
}

std::optional<unsigned> parse_id(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 9) return {};
    return static_cast<unsigned>(std::stoul(text));
}

// The file as the merged rootfs shows it, or an empty string when absent.
std::string read_image_file(const std::vector<fs::path>& lowerdirs, const std::string& relative) {
    MergedTree tree = MergedTree::merge_path(lowerdirs, relative);
    auto found = tree.entries().find(relative);
    if (found == tree.entries().end() || !S_ISREG(found->second.info.st_mode)) return {};
    return read_file(found->second.source);
}

std::vector<PasswdEntry> parse_passwd(const std::string& content) {
    std::vector<PasswdEntry> entries;
    for (const auto& line : split(content, '\n')) {
        auto fields = split(line, ':');
        if (fields.size() < 4) continue;
        auto uid = parse_id(fields[2]);
        auto gid = parse_id(fields[3]);
        if (uid && gid) entries.push_back({fields[0], *uid, *gid});
    }
    return entries;
}

std::vector<GroupEntry> parse_group(const std::string& content) {
    std::vector<GroupEntry> entries;
    for (const auto& line : split(content, '\n')) {
        auto fields = split(line, ':');
        if (fields.size() < 3) continue;
        auto gid = parse_id(fields[2]);
        if (!gid) continue;
        GroupEntry entry{fields[0], *gid, {}};
        if (fields.size() >= 4 && !fields[3].empty()) entry.members = split(fields[3], ',');
        entries.push_back(entry);
    }
    return entries;
}

}  // namespace

std::string resolve_user(const std::string& user, const std::vector<fs::path>& lowerdirs) {
    auto colon = user.find(':');
    std::string user_part = user.substr(0, colon);
    std::string group_part = colon == std::string::npos ? "" : user.substr(colon + 1);
    if (user_part.empty()) user_part = "0";

    auto passwd = parse_passwd(read_image_file(lowerdirs, "etc/passwd"));
    auto groups = parse_group(read_image_file(lowerdirs, "etc/group"));

    // A numeric uid need not exist in /etc/passwd (as in Docker); its gid then defaults to 0.
    std::optional<PasswdEntry> account;
    for (const auto& entry : passwd) {
        if (entry.name == user_part || (parse_id(user_part) && entry.uid == *parse_id(user_part))) {
            account = entry;
            break;
        }
    }
    if (!account && !parse_id(user_part)) {
        throw Error("user '" + user_part + "' not found in the image's /etc/passwd",
                    "use a numeric uid, or a user the image defines");
    }
    unsigned uid = account ? account->uid : *parse_id(user_part);
    unsigned gid = account ? account->gid : 0;

    if (!group_part.empty()) {
        std::optional<unsigned> group_id = parse_id(group_part);
        for (const auto& entry : groups) {
            if (!group_id && entry.name == group_part) group_id = entry.gid;
        }
        if (!group_id) {
            throw Error("group '" + group_part + "' not found in the image's /etc/group",
                        "use a numeric gid, or a group the image defines");
        }
        gid = *group_id;
    }

    std::set<unsigned> supplementary;
    if (account && group_part.empty()) {
        for (const auto& entry : groups) {
            for (const auto& member : entry.members) {
                if (member == account->name && entry.gid != gid) supplementary.insert(entry.gid);
            }
        }
    }
    std::string resolved = std::to_string(uid) + ":" + std::to_string(gid);
    std::string separator = ":";
    for (unsigned group_id : supplementary) {
        resolved += separator + std::to_string(group_id);
        separator = ",";
    }
    spdlog::debug("image user '{}' resolved to {}", user, resolved);
    return resolved;
}

Workload workload_for_image(const image::Image& image, const std::vector<std::string>& command,
                            const std::vector<fs::path>& lowerdirs) {
    Workload workload;
    // As in Docker: a command given on the command line replaces Cmd, not Entrypoint.
    workload.argv = image.config.entrypoint;
    const auto& arguments = command.empty() ? image.config.cmd : command;
    workload.argv.insert(workload.argv.end(), arguments.begin(), arguments.end());
    if (workload.argv.empty()) {
        throw Error("image " + image.reference + " has no Entrypoint or Cmd and no command was given",
                    "give the command to run after the image name");
    }

    workload.env = image.config.env;
    bool has_path = false;
    for (const auto& variable : workload.env) has_path = has_path || variable.starts_with("PATH=");
    if (!has_path) workload.env.emplace_back(default_path);

    workload.workdir = image.config.working_dir.empty() ? "/" : image.config.working_dir;
    workload.user = resolve_user(image.config.user, lowerdirs);
    return workload;
}

ImageInitramfs ensure_image_initramfs(const Paths& paths, const std::string& config_digest,
                                      const std::vector<fs::path>& lowerdirs, InitramfsCompression compression) {
    std::string init_hex = digest_hex(sha256_file_digest(init_binary()));
    std::string name = digest_hex(config_digest) + "-" + init_hex.substr(0, 16) +
                       (compression == InitramfsCompression::gzip ? ".cpio.gz" : ".cpio");
    fs::path folder = paths.cache / "initramfs";
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms(0755));

    ImageInitramfs result;
    result.path = folder / name;
    if (!fs::exists(result.path)) {
        FileLock lock(folder / ".lock");
        if (!fs::exists(result.path)) {
            fs::path partial = result.path;
            partial += ".partial-" + random_hex_id().substr(0, 12);
            try {
                build_image_part(partial, lowerdirs, compression);
                fs::rename(partial, result.path);
            } catch (...) {
                std::error_code ignored;
                fs::remove(partial, ignored);
                throw;
            }
            spdlog::debug("built image initramfs {} from {} layers", result.path.string(), lowerdirs.size());
        } else {
            result.reused = true;
        }
    } else {
        result.reused = true;
    }
    result.bytes = fs::file_size(result.path);
    return result;
}

void write_workload_cpio(const Workload& workload, const fs::path& destination, InitramfsCompression compression) {
    FileDescriptor fd(open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno("cannot create " + destination.string());
    auto writer = open_cpio_writer(fd.get(), compression, destination.string());
    add_workload_files(writer.get(), workload);
    if (archive_write_close(writer.get()) != ARCHIVE_OK) throw_archive(writer.get(), "cannot finish " + destination.string());
    fs::permissions(destination, fs::perms(0644));
}

std::uint64_t write_run_initramfs(const fs::path& image_part, const Workload& workload, const fs::path& destination,
                                  InitramfsCompression compression) {
    FileDescriptor fd(open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno("cannot create " + destination.string());
    clone_or_copy(image_part, fd.get());

    auto writer = open_cpio_writer(fd.get(), compression, destination.string());
    add_workload_files(writer.get(), workload);
    if (archive_write_close(writer.get()) != ARCHIVE_OK) throw_archive(writer.get(), "cannot finish " + destination.string());
    // The file contains the workload's environment (-e values too). libvirt's QEMU user must
    // read it; the VM's folder admits only root and QEMU's group (vm.cpp).
    fs::permissions(destination, fs::perms(0644));
    std::uint64_t bytes = fs::file_size(destination);
    spdlog::debug("wrote run initramfs {} ({} bytes: image part {} + workload)", destination.string(), bytes,
                  image_part.string());
    return bytes;
}

void merge_layers(const std::vector<fs::path>& lowerdirs, const fs::path& destination) {
    MergedTree::merge(lowerdirs).copy_to(destination);
}

}  // namespace isolab::vm::guest
