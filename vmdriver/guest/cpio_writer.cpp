#include "vmdriver/guest/cpio_writer.hpp"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/core/error.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::vm::guest::cpio {

namespace fs = std::filesystem;

EntryPointer new_entry() { return EntryPointer(archive_entry_new(), archive_entry_free); }

[[noreturn]] void throw_archive(archive* writer, const std::string& what) {
    const char* message = archive_error_string(writer);
    throw Error(what + ": " + (message != nullptr ? message : "unknown libarchive error"));
}

ArchivePointer open_cpio_writer(int fd, InitramfsCompression compression, const std::string& name) {
    ArchivePointer writer(archive_write_new(), archive_write_free);
    archive_write_set_format_cpio_newc(writer.get());
    if (compression == InitramfsCompression::gzip) archive_write_add_filter_gzip(writer.get());
    // No padding after the trailer: the kernel skips zeros between archives, but a run
    // file made of two parts stays smaller without them.
    archive_write_set_bytes_in_last_block(writer.get(), 1);
    if (archive_write_open_fd(writer.get(), fd) != ARCHIVE_OK) throw_archive(writer.get(), "cannot start cpio " + name);
    return writer;
}

void write_header(archive* writer, archive_entry* entry) {
    if (archive_write_header(writer, entry) != ARCHIVE_OK) {
        throw_archive(writer, std::string("cannot add ") + archive_entry_pathname(entry) + " to the cpio archive");
    }
}

void write_data(archive* writer, std::string_view data, const std::string& name) {
    if (archive_write_data(writer, data.data(), data.size()) != static_cast<la_ssize_t>(data.size())) {
        throw_archive(writer, "cannot write " + name + " into the cpio archive");
    }
}

void add_memory_file(archive* writer, const std::string& name, std::string_view content, unsigned mode) {
    auto entry = new_entry();
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), mode);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
    write_header(writer, entry.get());
    write_data(writer, content, name);
}

void add_memory_folder(archive* writer, const std::string& name, unsigned mode) {
    auto entry = new_entry();
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFDIR);
    archive_entry_set_perm(entry.get(), mode);
    archive_entry_set_size(entry.get(), 0);
    write_header(writer, entry.get());
}

void copy_file_data(archive* writer, const fs::path& source) {
    int fd = open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open " + source.string());
    char buffer[1 << 16];
    while (true) {
        ssize_t count = read(fd, buffer, sizeof buffer);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            int saved = errno;
            close(fd);
            throw_errno(saved, "cannot read " + source.string());
        }
        if (count == 0) break;
        if (archive_write_data(writer, buffer, static_cast<size_t>(count)) != count) {
            close(fd);
            throw_archive(writer, "cannot write " + source.string() + " into the cpio archive");
        }
    }
    close(fd);
}

void add_init(archive* writer) {
    fs::path init = init_binary();
    auto entry = new_entry();
    archive_entry_set_pathname(entry.get(), "init");
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0755);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(fs::file_size(init)));
    write_header(writer, entry.get());
    copy_file_data(writer, init);
}

void add_console_device(archive* writer, bool add_dev_folder) {
    if (add_dev_folder) add_memory_folder(writer, "dev", 0755);
    auto entry = new_entry();
    archive_entry_set_pathname(entry.get(), "dev/console");
    archive_entry_set_filetype(entry.get(), AE_IFCHR);
    archive_entry_set_perm(entry.get(), 0600);
    archive_entry_set_rdev(entry.get(), makedev(5, 1));
    archive_entry_set_size(entry.get(), 0);
    write_header(writer, entry.get());
}

static std::string join_nul(const std::vector<std::string>& items) {
    std::string joined;
    for (const auto& item : items) {
        joined += item;
        joined += '\0';
    }
    return joined;
}

void add_workload_files(archive* writer, const Workload& workload) {
    add_memory_folder(writer, ".isolab", 0755);
    add_memory_file(writer, ".isolab/argv", join_nul(workload.argv), 0644);
    add_memory_file(writer, ".isolab/env", join_nul(workload.env), 0644);
    add_memory_file(writer, ".isolab/workdir", workload.workdir, 0644);
    add_memory_file(writer, ".isolab/user", workload.user, 0644);
    if (!workload.mounts.empty()) {
        std::vector<std::string> fields;
        for (const auto& mount : workload.mounts) {
            fields.insert(fields.end(), {mount.tag, mount.guest_path, mount.read_only ? "ro" : "rw"});
        }
        add_memory_file(writer, ".isolab/mounts", join_nul(fields), 0644);
    }
    if (!workload.resolv_conf.empty()) add_memory_file(writer, ".isolab/resolv.conf", workload.resolv_conf, 0644);
    if (workload.early_modules.empty()) return;
    add_memory_folder(writer, ".isolab/early-modules", 0755);
    std::string list;
    for (const auto& [name, content] : workload.early_modules) {
        std::string path = ".isolab/early-modules/" + name;
        add_memory_file(writer, path, content, 0644);
        list += "/" + path + "\n";
    }
    add_memory_file(writer, ".isolab/early-modules.list", list, 0644);
}

}  // namespace isolab::vm::guest::cpio
