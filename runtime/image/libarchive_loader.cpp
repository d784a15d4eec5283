// The libarchive functions isolab calls, defined here as forwarders to libarchive.so.13,
// which is loaded with dlopen() at the first call. The isolab executable therefore does
// not link libarchive: commands that unpack or pack no archive (`run` of a stored image,
// `oci run`) start without loading libarchive and the libraries it needs (libxml2, ICU,
// nettle, zstd, lz4, bzip2, ...), which cost about 2 ms of dynamic linking on every
// start.
//
// Each forwarder has the signature that <archive.h> or <archive_entry.h> declares, so
// the compiler checks it. A function used anywhere in isolab must get a forwarder here,
// or linking fails with an undefined reference. The executable does not export these
// definitions (nothing it links to refers to them), so libarchive's own calls never
// reach them.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdarg>
#include <cstdio>

#include "runtime/core/lazy_library.hpp"

namespace isolab::image {

namespace {

// The soname of libarchive 3.x, the one Debian's libarchive13 package ships.
LazyLibrary& library() {
    static LazyLibrary libarchive("libarchive.so.13", "libarchive13");
    return libarchive;
}

}  // namespace

}  // namespace isolab::image

// Defines `name` to call the function of the same name in libarchive.so.13, resolved once.
#define ISOLAB_LIBARCHIVE_FORWARD(result, name, parameters, arguments)                                      \
    extern "C" result name parameters {                                                                     \
        static const auto function =                                                                        \
            reinterpret_cast<decltype(&name)>(isolab::image::library().function(#name));                   \
        return function arguments;                                                                          \
    }

ISOLAB_LIBARCHIVE_FORWARD(time_t, archive_entry_atime, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_entry_atime_is_set, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(long, archive_entry_atime_nsec, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_copy_sourcepath, (struct archive_entry* a0, const char* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_copy_stat, (struct archive_entry* a0, const struct stat* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(__LA_MODE_T, archive_entry_filetype, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_free, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(la_int64_t, archive_entry_gid, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_entry_hardlink, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_linkify, (struct archive_entry_linkresolver* a0, struct archive_entry** a1, struct archive_entry** a2),
                          (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_linkresolver_free, (struct archive_entry_linkresolver* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(struct archive_entry_linkresolver*, archive_entry_linkresolver_new, (void), ())
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_linkresolver_set_strategy, (struct archive_entry_linkresolver* a0, int a1),
                          (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(__LA_MODE_T, archive_entry_mode, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(time_t, archive_entry_mtime, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(long, archive_entry_mtime_nsec, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(struct archive_entry*, archive_entry_new, (void), ())
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_entry_pathname, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_entry_pathname_utf8, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(__LA_MODE_T, archive_entry_perm, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_filetype, (struct archive_entry* a0, unsigned int a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_gid, (struct archive_entry* a0, la_int64_t a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_hardlink, (struct archive_entry* a0, const char* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_mtime, (struct archive_entry* a0, time_t a1, long a2), (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_pathname, (struct archive_entry* a0, const char* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_perm, (struct archive_entry* a0, __LA_MODE_T a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_rdev, (struct archive_entry* a0, dev_t a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_size, (struct archive_entry* a0, la_int64_t a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_symlink, (struct archive_entry* a0, const char* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_set_uid, (struct archive_entry* a0, la_int64_t a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(la_int64_t, archive_entry_size, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_entry_size_is_set, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_entry_sourcepath, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_entry_symlink, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(la_int64_t, archive_entry_uid, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(void, archive_entry_xattr_add_entry, (struct archive_entry* a0, const char* a1, const void* a2, size_t a3),
                          (a0, a1, a2, a3))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_entry_xattr_next, (struct archive_entry* a0, const char** a1, const void** a2, size_t* a3),
                          (a0, a1, a2, a3))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_entry_xattr_reset, (struct archive_entry* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(const char*, archive_error_string, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(la_int64_t, archive_filter_bytes, (struct archive* a0, int a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(la_ssize_t, archive_read_data, (struct archive* a0, void* a1, size_t a2), (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_data_block, (struct archive* a0, const void** a1, size_t* a2, la_int64_t* a3),
                          (a0, a1, a2, a3))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_free, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(struct archive*, archive_read_new, (void), ())
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_next_header, (struct archive* a0, struct archive_entry** a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_open, (struct archive* a0, void* a1, archive_open_callback* a2, archive_read_callback* a3, archive_close_callback* a4),
                          (a0, a1, a2, a3, a4))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_open_filename, (struct archive* a0, const char* a1, size_t a2),
                          (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_open_memory, (struct archive* a0, const void* a1, size_t a2), (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_support_filter_all, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_support_format_cpio, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_support_format_gnutar, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_support_format_raw, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_read_support_format_tar, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_add_filter_gzip, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_add_filter_zstd, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_close, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(la_ssize_t, archive_write_data, (struct archive* a0, const void* a1, size_t a2), (a0, a1, a2))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_free, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_header, (struct archive* a0, struct archive_entry* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(struct archive*, archive_write_new, (void), ())
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_open, (struct archive* a0, void* a1, archive_open_callback* a2, archive_write_callback* a3, archive_close_callback* a4),
                          (a0, a1, a2, a3, a4))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_open_fd, (struct archive* a0, int a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_open_filename, (struct archive* a0, const char* a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_bytes_in_last_block, (struct archive* a0, int a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_bytes_per_block, (struct archive* a0, int a1), (a0, a1))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_filter_option, (struct archive* a0, const char* a1, const char* a2, const char* a3),
                          (a0, a1, a2, a3))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_format_cpio_newc, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_format_pax_restricted, (struct archive* a0), (a0))
ISOLAB_LIBARCHIVE_FORWARD(int, archive_write_set_format_raw, (struct archive* a0), (a0))

// archive_set_error() takes a printf format: the message is formatted here and passed on
// as one "%s" argument.
extern "C" void archive_set_error(struct archive* handle, int error, const char* format, ...) {
    static const auto function =
        reinterpret_cast<decltype(&archive_set_error)>(isolab::image::library().function("archive_set_error"));
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    std::vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    function(handle, error, "%s", message);
}
