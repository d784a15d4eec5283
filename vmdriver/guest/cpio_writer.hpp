#pragma once
// Writing newc cpio archives (the initramfs format) with libarchive: the small helpers
// shared by the image initramfs and the disk-form initramfs.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vmdriver/guest/initramfs.hpp"

namespace isolab::vm::guest::cpio {

using ArchivePointer = std::unique_ptr<archive, int (*)(archive*)>;
using EntryPointer = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

// An owned file descriptor, closed by the destructor.
class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

EntryPointer new_entry();

// Throws Error with `what` and libarchive's message.
[[noreturn]] void throw_archive(archive* writer, const std::string& what);

// Starts a newc writer on `fd`, gzip-compressed on request, without trailing padding.
ArchivePointer open_cpio_writer(int fd, InitramfsCompression compression, const std::string& name);

void write_header(archive* writer, archive_entry* entry);
void write_data(archive* writer, std::string_view data, const std::string& name);
void copy_file_data(archive* writer, const std::filesystem::path& source);

void add_memory_file(archive* writer, const std::string& name, std::string_view content, unsigned mode);
void add_memory_folder(archive* writer, const std::string& name, unsigned mode);

// Adds /init: isolab::init_binary(), mode 0755.
void add_init(archive* writer);

// Adds /dev/console (character device 5:1), and /dev first when `add_dev_folder`. The
// kernel opens it for /init before any devtmpfs exists; the kernel's built-in initramfs
// usually provides it, this makes the guest independent of that.
void add_console_device(archive* writer, bool add_dev_folder);

// Adds /.isolab/{argv,env,workdir,user}.
void add_workload_files(archive* writer, const Workload& workload);

}  // namespace isolab::vm::guest::cpio
